#include "common/logparse/synth/synth_formats.h"

namespace fedlog::logparse::synth {
namespace {

int I(uint64_t v) { return static_cast<int>(v); }
const char* const kUsers[] = {"root", "admin", "alice", "bob", "deploy", "backup", "www", "git"};
const char* const kIntruders[] = {"test", "oracle", "guest", "postgres", "ftpuser", "ubnt", "pi", "support"};

class HdfsWriter : public FormatWriter {
 public:
  std::vector<std::string> kinds() const override { return {"network_timeout", "disk_full"}; }
  void StartIncident(const std::string&, Rng* rng) override { bad_node_ = RandomIp(rng); }
  std::string Head(int64_t ms, Rng* rng, const char* level, const char* component) {
    Civil c = ToCivil(ms);
    return Fmt("%02d%02d%02d %02d%02d%02d %d %s %s: ", c.year % 100, c.month, c.day, c.hour, c.minute, c.second,
               I(10 + rng->Uniform(5000)), level, component);
  }
  std::string Blk(Rng* rng) { return Fmt("blk_%s%llu", rng->Chance(0.5) ? "-" : "", static_cast<unsigned long long>(rng->Next() >> 1)); }
  std::string Normal(int64_t ms, Rng* rng) override {
    switch (rng->Uniform(5)) {
      case 0:
        return Head(ms, rng, "INFO", "dfs.DataNode$DataXceiver") + "Receiving block " + Blk(rng) + " src: /" +
               RandomIp(rng) + Fmt(":%d dest: /", I(30000 + rng->Uniform(30000))) + RandomIp(rng) + ":50010";
      case 1:
        return Head(ms, rng, "INFO", "dfs.DataNode$PacketResponder") +
               Fmt("PacketResponder %d for block ", I(rng->Uniform(3))) + Blk(rng) + " terminating";
      case 2:
        return Head(ms, rng, "INFO", "dfs.DataNode$PacketResponder") + "Received block " + Blk(rng) +
               Fmt(" of size %d from /", I(rng->Uniform(67108864))) + RandomIp(rng);
      case 3:
        return Head(ms, rng, "INFO", "dfs.FSNamesystem") + "BLOCK* NameSystem.addStoredBlock: blockMap updated: " +
               RandomIp(rng) + ":50010 is added to " + Blk(rng) + Fmt(" size %d", I(rng->Uniform(67108864)));
      default:
        return Head(ms, rng, "INFO", "dfs.DataBlockScanner") + "Verification succeeded for " + Blk(rng);
    }
  }
  std::string Incident(const std::string& kind, int64_t ms, Rng* rng) override {
    if (kind == "disk_full") {
      return Head(ms, rng, "ERROR", "dfs.DataNode") + bad_node_ +
             ":50010:DataXceiver: java.io.IOException: No space left on device";
    }
    return Head(ms, rng, "WARN", "dfs.DataNode$DataXceiver") + bad_node_ + ":50010:Got exception while serving " +
           Blk(rng) + " to /" + RandomIp(rng) +
           ": java.net.SocketTimeoutException: 480000 millis timeout while waiting for channel to be ready";
  }

 private:
  std::string bad_node_;
};

class OpenSshWriter : public FormatWriter {
 public:
  std::vector<std::string> kinds() const override { return {"auth_brute_force"}; }
  void StartIncident(const std::string&, Rng* rng) override { attacker_ = RandomIp(rng); }
  std::string Head(int64_t ms, Rng* rng) {
    Civil c = ToCivil(ms);
    return Fmt("%s %2d %02d:%02d:%02d LabSZ sshd[%d]: ", kMonthNames[c.month - 1], c.day, c.hour, c.minute,
               c.second, I(1000 + rng->Uniform(30000)));
  }
  std::string Normal(int64_t ms, Rng* rng) override {
    const char* user = rng->Pick(kUsers);
    switch (rng->Uniform(4)) {
      case 0: return Head(ms, rng) + Fmt("Accepted publickey for %s from ", user) + RandomIp(rng) +
                     Fmt(" port %d ssh2", I(1024 + rng->Uniform(60000)));
      case 1: return Head(ms, rng) + Fmt("pam_unix(sshd:session): session opened for user %s by (uid=0)", user);
      case 2: return Head(ms, rng) + "Received disconnect from " + RandomIp(rng) + ": 11: disconnected by user";
      default: return Head(ms, rng) + Fmt("pam_unix(sshd:session): session closed for user %s", user);
    }
  }
  std::string Incident(const std::string&, int64_t ms, Rng* rng) override {
    const char* user = rng->Pick(kIntruders);
    const int port = I(1024 + rng->Uniform(60000));
    switch (rng->Uniform(4)) {
      case 0: return Head(ms, rng) + Fmt("Invalid user %s from ", user) + attacker_;
      case 1: return Head(ms, rng) + Fmt("Failed password for invalid user %s from ", user) + attacker_ +
                     Fmt(" port %d ssh2", port);
      case 2: return Head(ms, rng) +
                     "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=" +
                     attacker_;
      default: return Head(ms, rng) + "Disconnecting: Too many authentication failures for root [preauth]";
    }
  }

 private:
  std::string attacker_;
};

class LinuxWriter : public FormatWriter {
 public:
  std::vector<std::string> kinds() const override {
    return {"oom_kill", "disk_full", "auth_brute_force", "crash_loop"};
  }
  void StartIncident(const std::string&, Rng* rng) override {
    attacker_ = RandomIp(rng);
    restarts_ = 0;
  }
  std::string Head(int64_t ms, const std::string& tag) {
    Civil c = ToCivil(ms);
    return Fmt("%s %2d %02d:%02d:%02d combo ", kMonthNames[c.month - 1], c.day, c.hour, c.minute, c.second) +
           tag + ": ";
  }
  std::string Normal(int64_t ms, Rng* rng) override {
    const std::string pid = Fmt("[%d]", I(1000 + rng->Uniform(30000)));
    switch (rng->Uniform(4)) {
      case 0: return Head(ms, "crond(pam_unix)" + pid) + "session opened for user root by (uid=0)";
      case 1: return Head(ms, "crond(pam_unix)" + pid) + "session closed for user root";
      case 2: return Head(ms, "syslogd 1.4.1") + "restart.";
      default: return Head(ms, "ftpd" + pid) + "connection from " + RandomIp(rng) + " () at " +
                      Fmt("%s %s %2d %02d:%02d:%02d %d", kWeekdayNames[ToCivil(ms).weekday],
                          kMonthNames[ToCivil(ms).month - 1], ToCivil(ms).day, ToCivil(ms).hour,
                          ToCivil(ms).minute, ToCivil(ms).second, ToCivil(ms).year);
    }
  }
  std::string Incident(const std::string& kind, int64_t ms, Rng* rng) override {
    if (kind == "oom_kill") {
      return Head(ms, "kernel") + Fmt("Out of memory: Killed process %d (java) total-vm:%dkB, anon-rss:%dkB",
                                      I(1000 + rng->Uniform(30000)), I(4000000 + rng->Uniform(4000000)),
                                      I(3000000 + rng->Uniform(1000000)));
    }
    if (kind == "disk_full") {
      return Head(ms, "kernel") + "EXT3-fs error (device sda1): ext3_new_block: No space left on device";
    }
    if (kind == "crash_loop") {
      return Head(ms, "init") + Fmt("Id \"x%d\" respawning too fast: disabled for 5 minutes", ++restarts_);
    }
    return Head(ms, Fmt("sshd(pam_unix)[%d]", I(1000 + rng->Uniform(30000)))) +
           "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=" + attacker_ + " user=root";
  }

 private:
  std::string attacker_;
  int restarts_ = 0;
};

class ApacheWriter : public FormatWriter {
 public:
  std::vector<std::string> kinds() const override { return {"disk_full", "crash_loop"}; }
  void StartIncident(const std::string&, Rng*) override {}
  std::string Head(int64_t ms, const char* level) {
    Civil c = ToCivil(ms);
    return Fmt("[%s %s %02d %02d:%02d:%02d %d] [%s] ", kWeekdayNames[c.weekday], kMonthNames[c.month - 1], c.day,
               c.hour, c.minute, c.second, c.year, level);
  }
  std::string Normal(int64_t ms, Rng* rng) override {
    switch (rng->Uniform(3)) {
      case 0: return Head(ms, "notice") + Fmt("jk2_init() Found child %d in scoreboard slot %d",
                                              I(1000 + rng->Uniform(9000)), I(rng->Uniform(10)));
      case 1: return Head(ms, "notice") + "workerEnv.init() ok /etc/httpd/conf/workers2.properties";
      default: return Head(ms, "error") + "[client " + RandomIp(rng) + "] Directory index forbidden by rule: " +
                      "/var/www/html/";
    }
  }
  std::string Incident(const std::string& kind, int64_t ms, Rng* rng) override {
    if (kind == "disk_full") return Head(ms, "error") + "(28)No space left on device: Cannot create SSLMutex";
    return Head(ms, "notice") + Fmt("child pid %d exit signal Segmentation fault (11)", I(1000 + rng->Uniform(9000)));
  }
};

class ZookeeperWriter : public FormatWriter {
 public:
  std::vector<std::string> kinds() const override { return {"network_timeout", "crash_loop"}; }
  void StartIncident(const std::string&, Rng* rng) override { peer_ = RandomIp(rng); }
  std::string Head(int64_t ms, const char* level, const char* where) {
    Civil c = ToCivil(ms);
    return Fmt("%04d-%02d-%02d %02d:%02d:%02d,%03d - %-5s [%s] - ", c.year, c.month, c.day, c.hour, c.minute,
               c.second, c.millis, level, where);
  }
  std::string Client(Rng* rng) {
    std::string out = "/";
    out.append(RandomIp(rng));
    out.append(Fmt(":%d", I(30000 + rng->Uniform(30000))));
    return out;
  }
  std::string Normal(int64_t ms, Rng* rng) override {
    const char* nio = "NIOServerCxn.Factory:0.0.0.0/0.0.0.0:2181:NIOServerCnxnFactory@197";
    switch (rng->Uniform(4)) {
      case 0: return Head(ms, "INFO", nio) + "Accepted socket connection from " + Client(rng);
      case 1: return Head(ms, "INFO", "NIOServerCxn.Factory:0.0.0.0/0.0.0.0:2181:ZooKeeperServer@839") +
                     "Client attempting to establish new session at " + Client(rng);
      case 2: return Head(ms, "INFO", "CommitProcessor:1:ZooKeeperServer@595") +
                     Fmt("Established session 0x%llx with negotiated timeout 10000 for client ",
                         static_cast<unsigned long long>(rng->Next() >> 8)) +
                     Client(rng);
      default: return Head(ms, "INFO", "NIOServerCxn.Factory:0.0.0.0/0.0.0.0:2181:NIOServerCnxn@1001") +
                      "Closed socket connection for client " + Client(rng) +
                      Fmt(" which had sessionid 0x%llx", static_cast<unsigned long long>(rng->Next() >> 8));
    }
  }
  std::string Incident(const std::string& kind, int64_t ms, Rng* rng) override {
    if (kind == "crash_loop") {
      return rng->Chance(0.5)
                 ? Head(ms, "ERROR", "QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:QuorumPeer@762") +
                       "Unexpected exception causing shutdown while sock still open"
                 : Head(ms, "INFO", "QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:QuorumPeer@670") + "LOOKING";
    }
    return Head(ms, "WARN", "WorkerSender[myid=1]:QuorumCnxManager@368") + "Cannot open channel to " +
           Fmt("%d", I(2 + rng->Uniform(3))) + " at election address /" + peer_ + ":3888";
  }

 private:
  std::string peer_;
};

}  // namespace

std::vector<std::string> FormatWriterNames() { return {"HDFS", "OpenSSH", "Linux", "Apache", "Zookeeper"}; }

std::unique_ptr<FormatWriter> NewFormatWriter(const std::string& f) {
  if (f == "HDFS") return std::make_unique<HdfsWriter>();
  if (f == "OpenSSH") return std::make_unique<OpenSshWriter>();
  if (f == "Linux") return std::make_unique<LinuxWriter>();
  if (f == "Apache") return std::make_unique<ApacheWriter>();
  if (f == "Zookeeper") return std::make_unique<ZookeeperWriter>();
  return nullptr;
}

}  // namespace fedlog::logparse::synth
