// The small `eval federated` settings the tests under tests/tools share (eval_federated_test.cc,
// eval_federated_choice_test.cc): the synthetic protocol, two rounds of a few steps, one thread.
#ifndef FEDLOG_TESTS_TOOLS_TINY_FEDERATED_OPTIONS_H_
#define FEDLOG_TESTS_TOOLS_TINY_FEDERATED_OPTIONS_H_

#include "tools/offline/eval_federated.h"

namespace fedlog::offline::testing {

inline FederatedOptions TinyFederatedOptions() {
  FederatedOptions o;
  o.protocol = "synth";
  o.rounds = 2;
  o.contrastive_steps = 3;
  o.meta_iterations = 2;
  o.batch_size = 32;
  o.shots = 5;
  o.seed = 3;
  o.threads = 1;
  return o;
}

}  // namespace fedlog::offline::testing

#endif  // FEDLOG_TESTS_TOOLS_TINY_FEDERATED_OPTIONS_H_
