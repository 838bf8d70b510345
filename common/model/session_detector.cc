#include "common/model/session_detector.h"

#include <chrono>
#include <random>

#include "common/base/status_macros.h"
#include "common/model/mlp_autoencoder.h"
#include "common/model/session_model.h"
#include "common/model/torch_util.h"

namespace fedlog::model {
namespace {

constexpr int64_t kScoreBatch = 256;

using Windows = std::vector<std::vector<int64_t>>;

// A window and the session it came from.
struct Windowed {
  Windows windows;
  std::vector<size_t> owner;
};

// Next-event view: every session cut into consecutive windows of max_len tokens.
Windowed CutWindows(const SessionSpec& spec, const Windows& sessions, size_t min_len) {
  Windowed out;
  for (size_t i = 0; i < sessions.size(); ++i) {
    std::vector<int64_t> tokens = ToTokens(spec, sessions[i]);
    for (size_t b = 0; b < tokens.size(); b += static_cast<size_t>(spec.max_len)) {
      size_t e = std::min(tokens.size(), b + static_cast<size_t>(spec.max_len));
      if (e - b < min_len) continue;
      out.windows.emplace_back(tokens.begin() + b, tokens.begin() + e);
      out.owner.push_back(i);
    }
  }
  return out;
}

absl::StatusOr<SessionModel> Load(const SessionSpec& spec, const fl::TensorBundle& weights,
                                  const torch::Device& device) {
  FEDLOG_RETURN_IF_ERROR(ValidateSessionSpec(spec));
  SessionModel net(spec);
  FEDLOG_RETURN_IF_ERROR(LoadParams(weights, *net, /*allow_extra=*/false));
  net->to(device);
  return net;
}

torch::Tensor NextEventLoss(SessionModel& net, const SessionSpec& spec, const SessionBatch& batch) {
  torch::Tensor logits = net->NextLogits(batch);
  const int64_t s = batch.ids.size(1);
  torch::Tensor targets = batch.ids.slice(1, 1, s).masked_fill(batch.pad.slice(1, 1, s), -100);
  return torch::nn::functional::cross_entropy(
      logits.slice(1, 0, s - 1).reshape({-1, spec.num_templates + 1}), targets.reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100));
}

// Shared epoch loop: `loss_fn(rows)` returns the loss of a batch of example indices.
template <typename LossFn>
absl::StatusOr<SessionTrainResult> Fit(SessionModel& net, size_t examples,
                                       const SessionTrainOptions& o, const torch::Device& device,
                                       LossFn loss_fn) {
  if (o.epochs <= 0 || o.batch_size <= 0 || !(o.learning_rate > 0)) {
    return absl::InvalidArgumentError("epochs, batch_size and learning_rate must be positive");
  }
  if (examples == 0) return absl::FailedPreconditionError("no training sessions");
  auto t0 = std::chrono::steady_clock::now();
  net->train();
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(o.learning_rate));
  std::mt19937_64 rng(o.runtime.seed);
  std::vector<size_t> order(examples);
  for (size_t i = 0; i < examples; ++i) order[i] = i;
  SessionTrainResult result;
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    double sum = 0;
    int batches = 0;
    for (size_t b = 0; b < examples; b += static_cast<size_t>(o.batch_size)) {
      std::vector<size_t> rows(order.begin() + b,
                               order.begin() + std::min(examples, b + o.batch_size));
      torch::Tensor loss = loss_fn(rows);
      opt.zero_grad();
      loss.backward();
      opt.step();
      sum += loss.item<double>();
      ++batches;
      ++result.steps;
    }
    (epoch == 0 ? result.initial_loss : result.final_loss) = sum / batches;
    if (o.epochs == 1) result.final_loss = result.initial_loss;
  }
  result.weights = ToBundle(*net);
  result.device = device.str();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

absl::Status CheckSessions(const Windows& sessions) {
  for (const auto& s : sessions) {
    if (s.empty()) return absl::InvalidArgumentError("empty session");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateSessionSpec(const SessionSpec& spec) {
  if (spec.num_templates <= 0 || spec.d_model <= 0 || spec.heads <= 0 || spec.layers <= 0 ||
      spec.ff_dim <= 0 || spec.max_len < 2) {
    return absl::InvalidArgumentError("session model sizes must be positive (max_len >= 2)");
  }
  if (spec.d_model % spec.heads != 0)
    return absl::InvalidArgumentError("d_model must be divisible by heads");
  if (!(spec.dropout >= 0.0f && spec.dropout < 1.0f))
    return absl::InvalidArgumentError("dropout in [0, 1)");
  return absl::OkStatus();
}

absl::StatusOr<fl::TensorBundle> InitialSessionWeights(const SessionSpec& spec) {
  FEDLOG_RETURN_IF_ERROR(ValidateSessionSpec(spec));
  return GuardTorch([&]() -> absl::StatusOr<fl::TensorBundle> {
    torch::manual_seed(spec.init_seed);
    SessionModel net(spec);
    return ToBundle(*net);
  });
}

absl::StatusOr<SessionTrainResult> TrainSessionClassifier(const SessionSpec& spec,
                                                          const fl::TensorBundle& start,
                                                          const Windows& sessions,
                                                          const std::vector<int>& labels,
                                                          const SessionTrainOptions& options) {
  return GuardTorch([&]() -> absl::StatusOr<SessionTrainResult> {
    if (labels.size() != sessions.size())
      return absl::InvalidArgumentError("one label per session needed");
    for (int y : labels) {
      if (y != 0 && y != 1) return absl::InvalidArgumentError("session labels must be 0 or 1");
    }
    FEDLOG_RETURN_IF_ERROR(CheckSessions(sessions));
    FEDLOG_ASSIGN_OR_RETURN(torch::Device device, PrepareRuntime(options.runtime));
    FEDLOG_ASSIGN_OR_RETURN(SessionModel net, Load(spec, start, device));
    Windows heads;  // the classifier reads each session's first max_len events
    for (const auto& s : sessions) {
      std::vector<int64_t> t = ToTokens(spec, s);
      t.resize(std::min<size_t>(t.size(), static_cast<size_t>(spec.max_len)));
      heads.push_back(std::move(t));
    }
    return Fit(net, heads.size(), options, device, [&](const std::vector<size_t>& rows) {
      Windows picked;
      std::vector<int64_t> y;
      for (size_t r : rows) {
        picked.push_back(heads[r]);
        y.push_back(labels[r]);
      }
      return torch::nn::functional::cross_entropy(net->Classify(PackSessions(spec, picked, device)),
                                                  torch::tensor(y, torch::kInt64).to(device));
    });
  });
}

absl::StatusOr<std::vector<float>> ScoreSessions(const SessionSpec& spec,
                                                 const fl::TensorBundle& weights,
                                                 const Windows& sessions,
                                                 const RuntimeOptions& runtime) {
  return GuardTorch([&]() -> absl::StatusOr<std::vector<float>> {
    FEDLOG_RETURN_IF_ERROR(CheckSessions(sessions));
    FEDLOG_ASSIGN_OR_RETURN(torch::Device device, PrepareRuntime(runtime));
    FEDLOG_ASSIGN_OR_RETURN(SessionModel net, Load(spec, weights, device));
    net->eval();
    torch::NoGradGuard no_grad;
    std::vector<float> out;
    for (size_t b = 0; b < sessions.size(); b += kScoreBatch) {
      Windows picked;
      for (size_t i = b; i < std::min(sessions.size(), b + kScoreBatch); ++i) {
        std::vector<int64_t> t = ToTokens(spec, sessions[i]);
        t.resize(std::min<size_t>(t.size(), static_cast<size_t>(spec.max_len)));
        picked.push_back(std::move(t));
      }
      std::vector<float> p = TensorToVector(
          torch::softmax(net->Classify(PackSessions(spec, picked, device)), 1).select(1, 1));
      out.insert(out.end(), p.begin(), p.end());
    }
    return out;
  });
}

absl::StatusOr<SessionTrainResult> TrainNextEvent(const SessionSpec& spec,
                                                  const fl::TensorBundle& start,
                                                  const Windows& sessions,
                                                  const SessionTrainOptions& options) {
  return GuardTorch([&]() -> absl::StatusOr<SessionTrainResult> {
    FEDLOG_RETURN_IF_ERROR(CheckSessions(sessions));
    FEDLOG_ASSIGN_OR_RETURN(torch::Device device, PrepareRuntime(options.runtime));
    FEDLOG_ASSIGN_OR_RETURN(SessionModel net, Load(spec, start, device));
    Windowed w = CutWindows(spec, sessions, /*min_len=*/2);
    return Fit(net, w.windows.size(), options, device, [&](const std::vector<size_t>& rows) {
      Windows picked;
      for (size_t r : rows) picked.push_back(w.windows[r]);
      return NextEventLoss(net, spec, PackSessions(spec, picked, device));
    });
  });
}

absl::StatusOr<std::vector<NextEventScore>> ScoreNextEvent(const SessionSpec& spec,
                                                           const fl::TensorBundle& weights,
                                                           const Windows& sessions, int top_g,
                                                           const RuntimeOptions& runtime) {
  return GuardTorch([&]() -> absl::StatusOr<std::vector<NextEventScore>> {
    if (top_g < 1) return absl::InvalidArgumentError("top_g must be >= 1");
    FEDLOG_RETURN_IF_ERROR(CheckSessions(sessions));
    FEDLOG_ASSIGN_OR_RETURN(torch::Device device, PrepareRuntime(runtime));
    FEDLOG_ASSIGN_OR_RETURN(SessionModel net, Load(spec, weights, device));
    net->eval();
    torch::NoGradGuard no_grad;
    Windowed w = CutWindows(spec, sessions, /*min_len=*/2);
    std::vector<NextEventScore> out(sessions.size());
    std::vector<int64_t> events(sessions.size(), 0);
    for (size_t b = 0; b < w.windows.size(); b += kScoreBatch) {
      const size_t e = std::min(w.windows.size(), b + kScoreBatch);
      SessionBatch batch =
          PackSessions(spec, Windows(w.windows.begin() + b, w.windows.begin() + e), device);
      const int64_t s = batch.ids.size(1);
      torch::Tensor logits = net->NextLogits(batch).slice(1, 0, s - 1);
      torch::Tensor target = batch.ids.slice(1, 1, s);
      torch::Tensor valid = batch.pad.slice(1, 1, s).logical_not().to(torch::kCPU);
      torch::Tensor safe = target.masked_fill(target > spec.num_templates, 0).unsqueeze(2);
      torch::Tensor target_logit = logits.gather(2, safe);
      torch::Tensor nll =
          (-torch::log_softmax(logits, 2).gather(2, safe).squeeze(2)).to(torch::kCPU).contiguous();
      torch::Tensor miss = ((logits > target_logit).sum(2) >= top_g).to(torch::kCPU).contiguous();
      auto nll_a = nll.accessor<float, 2>();
      auto miss_a = miss.accessor<bool, 2>();
      auto valid_a = valid.accessor<bool, 2>();
      for (size_t i = b; i < e; ++i) {
        NextEventScore& score = out[w.owner[i]];
        for (int64_t t = 0; t < s - 1; ++t) {
          if (!valid_a[i - b][t]) continue;
          score.score += nll_a[i - b][t];
          score.max_nll = std::max(score.max_nll, static_cast<double>(nll_a[i - b][t]));
          score.misses += miss_a[i - b][t] ? 1 : 0;
          ++events[w.owner[i]];
        }
      }
    }
    for (size_t i = 0; i < out.size(); ++i) {
      if (events[i] > 0) out[i].score /= static_cast<double>(events[i]);
      out[i].anomalous = out[i].misses > 0;
    }
    return out;
  });
}

}  // namespace fedlog::model
