#include "server/aggregator_server.h"

#include <algorithm>
#include <filesystem>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/base/logging.h"
#include "common/base/status_macros.h"
#include "common/config/yaml_proto.h"
#include "common/model/site_model.h"
#include "common/net/address.h"
#include "common/net/grpc_log.h"
#include "common/net/tls.h"
#include "common/net/tls_check.h"

namespace fedlog::server {
namespace {

void Resolve(const std::string& base_dir, std::string* path) {
  if (!base_dir.empty() && !path->empty() && (*path)[0] != '/') {
    *path = (std::filesystem::path(base_dir) / *path).lexically_normal().string();
  }
}

// limits.max_calls_per_peer and max_streams_per_connection: a site's daemon must fit (its stream caps and one
// unary call), and one certificate must not be able to take more than half of the server threads.
absl::Status FinalizeCallLimits(v1::ServerLimits* l) {
  const int32_t half = l->max_server_threads() / 2;
  const int64_t daemon = int64_t{l->max_polls_per_site()} + l->max_downloads_per_site() + l->max_uploads_per_site() + 1;
  if (l->max_calls_per_peer() == 0) l->set_max_calls_per_peer(std::min(16, half));
  if (l->max_calls_per_peer() < daemon || l->max_calls_per_peer() > half) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limits.max_calls_per_peer (", l->max_calls_per_peer(), ") must be in [", daemon, ", ", half,
        "]: at least a site's stream caps (max_polls_per_site + max_downloads_per_site + max_uploads_per_site) "
        "plus one call, at most half of max_server_threads"));
  }
  if (l->max_streams_per_connection() == 0) l->set_max_streams_per_connection(l->max_calls_per_peer());
  if (l->max_streams_per_connection() < daemon || l->max_streams_per_connection() > l->max_server_threads()) {
    return absl::InvalidArgumentError(absl::StrCat("limits.max_streams_per_connection (",
                                                   l->max_streams_per_connection(), ") must be in [", daemon, ", ",
                                                   l->max_server_threads(), "] (a site's stream caps plus one call, "
                                                   "at most max_server_threads)"));
  }
  return absl::OkStatus();
}

// Defaults of config.proto's ServerLimits; negative values are errors.
absl::Status FinalizeLimits(v1::ServerLimits* l, const v1::ServerConfig& c) {
  const google::protobuf::Descriptor* d = l->GetDescriptor();
  const google::protobuf::Reflection* r = l->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    const int64_t v = f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_INT64 ? r->GetInt64(*l, f)
                                                                                     : r->GetInt32(*l, f);
    if (v < 0) return absl::InvalidArgumentError(absl::StrCat("limits.", f->name(), " must not be negative"));
  }
  if (l->max_uploads_per_site() == 0) l->set_max_uploads_per_site(1);
  if (l->max_downloads_per_site() == 0) l->set_max_downloads_per_site(2);
  if (l->max_polls_per_site() == 0) l->set_max_polls_per_site(2);
  if (l->max_streams() == 0) l->set_max_streams(64);
  if (l->stream_idle_timeout_s() == 0) l->set_stream_idle_timeout_s(30);
  if (l->download_timeout_s() == 0) l->set_download_timeout_s(1800);
  if (l->upload_timeout_s() == 0) l->set_upload_timeout_s(1800);
  if (l->min_chunk_bytes() == 0) l->set_min_chunk_bytes(std::min(1 << 16, c.chunk_bytes()));
  if (l->min_chunk_bytes() > c.chunk_bytes()) {
    return absl::InvalidArgumentError("limits.min_chunk_bytes must not exceed chunk_bytes");
  }
  if (l->max_spool_bytes_per_site() == 0) l->set_max_spool_bytes_per_site(c.max_update_bytes());
  if (l->max_spool_bytes() == 0) l->set_max_spool_bytes(int64_t{8} << 30);
  if (l->max_download_variants() == 0) l->set_max_download_variants(8);
  if (l->max_server_threads() == 0) l->set_max_server_threads(256);
  if (l->max_server_threads() < 16) return absl::InvalidArgumentError("limits.max_server_threads must be >= 16");
  if (l->handshake_timeout_s() == 0) l->set_handshake_timeout_s(10);
  if (l->handshake_timeout_s() > 120) return absl::InvalidArgumentError("limits.handshake_timeout_s must be <= 120");
  if (l->max_connection_idle_s() == 0) l->set_max_connection_idle_s(60);
  if (l->max_connection_age_s() == 0) l->set_max_connection_age_s(600);
  if (l->max_connection_age_s() < 1 || l->max_connection_age_s() > 86400) {
    return absl::InvalidArgumentError("limits.max_connection_age_s must be in [1, 86400]");
  }
  FEDLOG_RETURN_IF_ERROR(FinalizeCallLimits(l));
  if (int64_t{l->max_connection_idle_s()} * 1000 <= c.heartbeat_interval_ms()) {
    return absl::InvalidArgumentError(absl::StrCat("limits.max_connection_idle_s (", l->max_connection_idle_s(),
                                                   " s) must exceed heartbeat_interval_ms (", c.heartbeat_interval_ms(),
                                                   " ms), or every site would be cut off between its calls"));
  }
  return absl::OkStatus();
}

StreamLimits StreamLimitsOf(const v1::ServerLimits& l) {
  StreamLimits s;
  s.max_uploads_per_party = l.max_uploads_per_site();
  s.max_downloads_per_party = l.max_downloads_per_site();
  s.max_polls_per_party = l.max_polls_per_site();
  s.max_streams = l.max_streams();
  s.idle_timeout = absl::Seconds(l.stream_idle_timeout_s());
  s.download_timeout = absl::Seconds(l.download_timeout_s());
  s.upload_timeout = absl::Seconds(l.upload_timeout_s());
  s.max_spool_bytes_per_party = l.max_spool_bytes_per_site();
  s.max_spool_bytes = l.max_spool_bytes();
  return s;
}

}  // namespace

absl::Status FinalizeServerConfig(v1::ServerConfig* c, const std::string& base_dir) {
  if (c->listen_address().empty()) c->set_listen_address("127.0.0.1:7443");
  FEDLOG_RETURN_IF_ERROR(net::ParseHostPort(c->listen_address(), "listen_address", /*allow_any_port=*/true).status());
  if (c->data_dir().empty()) return absl::InvalidArgumentError("data_dir is required");
  if (c->tls().ca_cert().empty() || c->tls().cert().empty() || c->tls().key().empty()) {
    return absl::InvalidArgumentError("tls.ca_cert, tls.cert and tls.key are required (mTLS is always on)");
  }
  Resolve(base_dir, c->mutable_data_dir());
  Resolve(base_dir, c->mutable_tls()->mutable_ca_cert());
  Resolve(base_dir, c->mutable_tls()->mutable_cert());
  Resolve(base_dir, c->mutable_tls()->mutable_key());
  if (c->heartbeat_interval_ms() <= 0) c->set_heartbeat_interval_ms(2000);
  if (c->site_timeout_ms() <= 0) c->set_site_timeout_ms(15000);
  if (c->max_poll_wait_ms() <= 0) c->set_max_poll_wait_ms(10000);
  if (c->chunk_bytes() <= 0) c->set_chunk_bytes(1 << 20);
  if (c->chunk_bytes() > (3 << 20)) return absl::InvalidArgumentError("chunk_bytes must be at most 3 MiB");
  if (c->max_update_bytes() <= 0) c->set_max_update_bytes(int64_t{1} << 30);
  if (c->max_concurrent_downloads() <= 0) c->set_max_concurrent_downloads(4);
  if (c->keep_model_versions() < 0) return absl::InvalidArgumentError("keep_model_versions must not be negative");
  if (c->keep_model_versions() == 0) c->set_keep_model_versions(20);
  FEDLOG_RETURN_IF_ERROR(FinalizeLimits(c->mutable_limits(), *c));
  return model::FinalizeModelSpec(c->mutable_model());
}

absl::StatusOr<v1::ServerConfig> LoadServerConfig(const std::string& path) {
  v1::ServerConfig c;
  FEDLOG_RETURN_IF_ERROR(config::LoadYamlFile(path, &c));
  FEDLOG_RETURN_IF_ERROR(Annotate(
      FinalizeServerConfig(&c, std::filesystem::path(path).parent_path().string()), path));
  return c;
}

absl::StatusOr<std::unique_ptr<AggregatorServer>> AggregatorServer::Start(const v1::ServerConfig& config) {
  // Everything an operator can get wrong is checked before any state is opened, so a failed start leaves
  // nothing half-built (and nothing for the destructor to trip over).
  FEDLOG_ASSIGN_OR_RETURN(net::HostPort listen,
                          net::ParseHostPort(config.listen_address(), "listen_address", /*allow_any_port=*/true));
  const net::TlsFiles tls{config.tls().ca_cert(), config.tls().cert(), config.tls().key()};
  FEDLOG_RETURN_IF_ERROR(net::CheckTlsFiles(tls));
  FEDLOG_RETURN_IF_ERROR(net::MakeServerCredentials(tls).status());
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<model::SiteModel> site_model, model::CreateSiteModel(config.model()));
  if (!site_model->Detects()) {
    FEDLOG_LOG(WARNING) << "model.arch is " << site_model->arch()
                        << ": sites can train it, but live detection (a site's detect section) needs line_encoder "
                           "(the default arch)";
  }
  std::unique_ptr<AggregatorServer> s(new AggregatorServer());
  FEDLOG_RETURN_IF_ERROR(MakeDirs(config.data_dir(), true));
  FEDLOG_ASSIGN_OR_RETURN(s->store_, StateStore::Open(JoinPath(config.data_dir(), "aggregator.db")));
  s->blobs_ = std::make_unique<ModelBlobs>(config.data_dir(), config.limits().max_download_variants());
  s->streams_ = std::make_unique<StreamRegistry>(StreamLimitsOf(config.limits()));
  s->calls_ = std::make_unique<CallGate>(config.limits().max_calls_per_peer());
  FEDLOG_RETURN_IF_ERROR(s->blobs_->Init());
  CoordinatorOptions opts;
  opts.data_dir = config.data_dir();
  opts.model = config.model();
  opts.site_timeout_ms = config.site_timeout_ms();
  opts.max_poll_wait_ms = config.max_poll_wait_ms();
  opts.heartbeat_interval_ms = config.heartbeat_interval_ms();
  opts.max_update_bytes = config.max_update_bytes();
  opts.auto_admit_sources = config.auto_admit_sources();
  opts.keep_updates = config.keep_updates();
  opts.keep_model_versions = config.keep_model_versions() > 0 ? config.keep_model_versions() : 20;
  opts.revoked_grace_ms = int64_t{config.limits().max_connection_age_s()} * 1000;
  opts.on_revoke = [streams = s->streams_.get()](const std::string& site) {
    streams->CancelParty(SiteParty(site), "site revoked");
  };
  auto coordinator = std::make_unique<Coordinator>(opts, s->store_.get(), s->blobs_.get());
  FEDLOG_RETURN_IF_ERROR(coordinator->Recover());
  s->coordinator_ = std::move(coordinator);
  FederationServiceOptions fed;
  fed.chunk_bytes = config.chunk_bytes();
  fed.min_chunk_bytes = config.limits().min_chunk_bytes();
  fed.max_downloads = config.max_concurrent_downloads();
  s->config_ = config;
  s->listen_host_ = listen.host;
  // A revoked site is refused at the TLS handshake, before any of its HTTP/2 frames is read (the credentials
  // checked above without this admission, before any state was opened).
  FEDLOG_ASSIGN_OR_RETURN(s->creds_, net::MakeServerCredentials(tls, [c = s->coordinator_.get()](
                                                                      const net::PeerIdentity& id) {
                            return id.role == "site" ? c->AdmitConnection(id.id) : absl::OkStatus();
                          }));
  s->fed_options_ = fed;
  if (absl::Status st = s->Listen(config.listen_address()); !st.ok()) {
    const std::string why = net::ProbeListen(listen);
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen_address(), why.empty() ? "" : ": ", why));
  }
  s->coordinator_->Start();
  s->watchdog_ = std::thread([p = s.get()] { p->WatchListener(); });
  FEDLOG_LOG(INFO) << "aggregator listening on " << config.listen_address() << " (port " << s->port_
                   << "), data in " << config.data_dir();
  return s;
}

absl::Status AggregatorServer::Listen(const std::string& address) {
  federation_ = std::make_unique<FederationService>(coordinator_.get(), blobs_.get(), streams_.get(), calls_.get(),
                                                    fed_options_);
  admin_ = std::make_unique<AdminService>(coordinator_.get(), calls_.get());
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, creds_, &port);
  builder.RegisterService(federation_.get());
  builder.RegisterService(admin_.get());
  builder.SetMaxReceiveMessageSize(4 << 20);
  // gRPC sets SO_REUSEPORT by default: a second aggregator on the same address would then start too, and the
  // kernel would split connections (and admin calls) between two registries. One address, one process.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Receive-side flow control. With BDP probing, gRPC grows each upload stream's window to tens of MB on a fast
  // link, and 8 concurrent uploads then park several model sizes in transport buffers (docs/BENCHMARKS.md,
  // round memory). A fixed 1 MiB window per stream bounds that at about 1 MiB per upload.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1 << 20);
  // Connections cost a file descriptor each, whoever opens them, and gRPC 1.51 cannot cap them per peer: bound
  // how long one can be held without a handshake (gRPC's default is 120 s) or without a call (no limit by
  // default). Per-address connection caps belong to the host's firewall (docs/OPERATIONS.md).
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, config_.limits().handshake_timeout_s() * 1000);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, config_.limits().max_connection_idle_s() * 1000);
  // Every connection ends after a while (GOAWAY; the calls in flight get up to the longest stream's timeout to
  // finish), so each peer passes the handshake's admission (revocation) again: a revoked site keeps an open
  // connection at most this long (docs/SECURITY.md "Revocation").
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, config_.limits().max_connection_age_s() * 1000);
  const int64_t grace_ms =
      int64_t{std::max(config_.limits().download_timeout_s(), config_.limits().upload_timeout_s())} * 1000;
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                             static_cast<int>(std::min<int64_t>(grace_ms, std::numeric_limits<int>::max())));
  // One connection may have this many calls open at once (gRPC's default is unbounded); a client's further calls
  // wait on its side. With the per-certificate CallGate this bounds what one peer's connection can ask of the
  // thread pool below (docs/SECURITY.md "Calls in flight").
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, config_.limits().max_streams_per_connection());
  // A bounded thread pool: calls beyond it are refused (RESOURCE_EXHAUSTED) instead of each taking a thread.
  grpc::ResourceQuota quota("fedlog-aggregator");
  quota.SetMaxThreads(config_.limits().max_server_threads());
  builder.SetResourceQuota(quota);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port == 0) {
    server_.reset();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address));
  }
  port_ = port;
  return absl::OkStatus();
}

// gRPC 1.51 stops accepting on a listener for good after one failed accept (EMFILE when the process is out of
// file descriptors, which enough idle connections from anyone cause: docs/SECURITY.md "Connections"). The
// watchdog sees the failure through the gRPC log hook (net::ListenerAcceptFailures; server/main.cc installs it)
// and rebuilds the listener on the same port: the old server's connections, the flood's included, are closed
// (live calls are cut; sites retry), and the coordinator's state is untouched.
void AggregatorServer::WatchListener() {
  int64_t seen = net::ListenerAcceptFailures();
  absl::MutexLock lock(&listen_mu_);
  while (!stopping_) {
    listen_mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Seconds(1));
    if (stopping_ || net::ListenerAcceptFailures() == seen) continue;
    seen = net::ListenerAcceptFailures();
    const std::string address = absl::StrCat(absl::StrContains(listen_host_, ':') ? "[" : "", listen_host_,
                                             absl::StrContains(listen_host_, ':') ? "]" : "", ":", port_.load());
    FEDLOG_LOG(ERROR) << "the listener on " << address << " failed to accept a connection (see the grpc line above; "
                      << "out of file descriptors when many connections are held): restarting it; live calls are "
                      << "cut and sites reconnect";
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_.reset();
    ++listener_restarts_;
    while (!stopping_) {
      absl::Status st = Listen(address);
      if (st.ok()) {
        FEDLOG_LOG(WARNING) << "listener restarted on " << address << " (restart " << listener_restarts_ << ")";
        break;
      }
      FEDLOG_LOG(ERROR) << st.message() << "; retrying in 1 s";
      listen_mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Seconds(1));
    }
    seen = net::ListenerAcceptFailures();  // the restart's own failures, if any, are not a new fault
  }
}

int64_t AggregatorServer::listener_restarts() {
  absl::MutexLock lock(&listen_mu_);
  return listener_restarts_;
}

void AggregatorServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  {
    absl::MutexLock lock(&listen_mu_);
    stopping_ = true;
  }
  if (watchdog_.joinable()) watchdog_.join();
  if (coordinator_) coordinator_->Stop();  // wakes long polls so Shutdown below does not wait for them
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (coordinator_) coordinator_->SaveLastSeen();  // LAST SEEN survives a restart
}

AggregatorServer::~AggregatorServer() { Shutdown(); }

}  // namespace fedlog::server
