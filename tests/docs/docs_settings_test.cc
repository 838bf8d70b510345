// Check 3 of the docs check (tests/docs/docs_check.py holds checks 1, 2, 4 and 5): the settings the daemons'
// config parser accepts and the settings the docs name agree. The parser maps YAML onto ClientConfig (site.yaml)
// and ServerConfig (aggregator.yaml) by proto field name (common/config/yaml_proto.h), so the accepted keys are
// those messages' fields, read here by reflection, and the docs' examples are fed to the parser itself.
//   - Every field reachable from ClientConfig or ServerConfig is named in a non-history page (README.md and
//     docs/*.md but EVALUATION.md and BENCHMARKS.md, which record past states) as a whole word.
//   - Every ```yaml block of those pages parses as a ClientConfig or as a ServerConfig.
//   - Every dotted setting those pages write, a section of either config followed by field names
//     (`detect.kind_alarm_budget`, `limits.max_streams`, `model.encoder.out_dim`), names fields; a last part that
//     is a file extension (`detect.db`, `model.proto`) makes it a file name, not a setting.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/config/yaml_proto.h"
#include "fedlog/v1/config.pb.h"
#include "google/protobuf/descriptor.h"

namespace fedlog {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

struct Page {
  std::string name;  // repo-relative
  std::string text;
};

std::vector<Page> LivePages() {
  const char* root = std::getenv("FEDLOG_SOURCE_DIR");
  std::filesystem::path dir = root != nullptr ? root : FEDLOG_DOCS_SOURCE_DIR;
  std::vector<std::string> names = {"README.md"};
  for (const auto& e : std::filesystem::directory_iterator(dir / "docs")) {
    const std::string n = e.path().filename().string();
    if (e.path().extension() == ".md" && n != "EVALUATION.md" && n != "BENCHMARKS.md") names.push_back("docs/" + n);
  }
  std::vector<Page> pages;
  for (const std::string& n : names) {
    std::ifstream in(dir / n);
    std::stringstream ss;
    ss << in.rdbuf();
    pages.push_back({n, ss.str()});
  }
  return pages;
}

// Field names reachable from `d`, each once.
void CollectFields(const Descriptor* d, std::set<std::string>* seen_messages, std::set<std::string>* out) {
  if (!seen_messages->insert(d->full_name()).second) return;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    out->insert(f->name());
    if (f->message_type() != nullptr) CollectFields(f->message_type(), seen_messages, out);
  }
}

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

bool NamedAsWord(const std::vector<Page>& pages, const std::string& word) {
  for (const Page& p : pages) {
    for (size_t at = p.text.find(word); at != std::string::npos; at = p.text.find(word, at + 1)) {
      const size_t after = at + word.size();
      if ((at == 0 || !IsWordChar(p.text[at - 1])) && (after == p.text.size() || !IsWordChar(p.text[after]))) {
        return true;
      }
    }
  }
  return false;
}

// Findings: the accepted keys no page names.
std::vector<std::string> UndocumentedKeys(const std::vector<Page>& pages) {
  std::set<std::string> seen, fields;
  CollectFields(v1::ClientConfig::descriptor(), &seen, &fields);
  CollectFields(v1::ServerConfig::descriptor(), &seen, &fields);
  std::vector<std::string> out;
  for (const std::string& f : fields) {
    if (!NamedAsWord(pages, f)) out.push_back("config.proto: setting `" + f + "` is accepted but named in no page");
  }
  return out;
}

struct Block {
  int line;  // 1-based line of the opening fence
  std::string text;
};

// The ```yaml blocks of `text`, their fence's indentation removed.
std::vector<Block> YamlBlocks(const std::string& text) {
  std::vector<Block> blocks;
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    const size_t indent = lines[i].find_first_not_of(' ');
    if (indent == std::string::npos || lines[i].compare(indent, 7, "```yaml") != 0) continue;
    Block b{static_cast<int>(i) + 1, ""};
    for (++i; i < lines.size() && lines[i].find("```") == std::string::npos; ++i) {
      b.text += (lines[i].size() > indent ? lines[i].substr(indent) : "") + "\n";
    }
    blocks.push_back(b);
  }
  return blocks;
}

// Findings: the yaml blocks that parse as neither config; `*blocks` counts the blocks.
std::vector<std::string> BadYamlBlocks(const std::vector<Page>& pages, int* blocks) {
  std::vector<std::string> out;
  for (const Page& p : pages) {
    for (const Block& b : YamlBlocks(p.text)) {
      ++*blocks;
      v1::ClientConfig client;
      v1::ServerConfig server;
      const absl::Status as_client = config::ParseYamlToMessage(b.text, &client);
      const absl::Status as_server = config::ParseYamlToMessage(b.text, &server);
      if (as_client.ok() || as_server.ok()) continue;
      out.push_back(absl::StrCat(p.name, ":", b.line, ": the yaml block is neither a site.yaml (",
                                 as_client.message(), ") nor an aggregator.yaml (", as_server.message(), ")"));
    }
  }
  return out;
}

// The field `name` of `d`, or null.
const FieldDescriptor* Field(const Descriptor* d, const std::string& name) {
  return d == nullptr ? nullptr : d->FindFieldByName(name);
}

// Findings: the dotted settings that name no field; `*named` counts the dotted settings.
std::vector<std::string> BadDottedSettings(const std::vector<Page>& pages, int* named) {
  const std::set<std::string> files = {"db", "proto", "json", "jsonl", "yaml", "md", "h", "cc", "csv", "txt"};
  const std::regex dotted("(^|[^A-Za-z0-9_./<>$-])([a-z_]+(\\.[a-z_]+)+)(?![A-Za-z0-9_(/-])");
  std::vector<std::string> out;
  for (const Page& p : pages) {
    std::vector<std::string> lines = absl::StrSplit(p.text, '\n');
    for (size_t i = 0; i < lines.size(); ++i) {
      for (std::sregex_iterator it(lines[i].begin(), lines[i].end(), dotted), end; it != end; ++it) {
        const std::string name = (*it)[2].str();
        std::vector<std::string> parts = absl::StrSplit(name, '.');
        const FieldDescriptor* section = Field(v1::ClientConfig::descriptor(), parts[0]);
        if (section == nullptr) section = Field(v1::ServerConfig::descriptor(), parts[0]);
        if (section == nullptr || section->message_type() == nullptr || files.count(parts.back()) > 0) continue;
        ++*named;
        const Descriptor* d = section->message_type();
        for (size_t k = 1; k < parts.size(); ++k) {
          if (Field(d, parts[k]) == nullptr) {
            out.push_back(absl::StrCat(p.name, ":", i + 1, ": `", name, "` names no setting (",
                                       d == nullptr ? parts[k - 1] + " is no section" : d->name() + " has no " +
                                       parts[k], ")"));
            break;
          }
          d = Field(d, parts[k])->message_type();
        }
      }
    }
  }
  return out;
}

TEST(DocsSettingsTest, EveryAcceptedKeyIsDocumented) {
  EXPECT_THAT(UndocumentedKeys(LivePages()), testing::IsEmpty());
}

TEST(DocsSettingsTest, EveryYamlExampleParses) {
  int blocks = 0;
  EXPECT_THAT(BadYamlBlocks(LivePages(), &blocks), testing::IsEmpty());
  EXPECT_GT(blocks, 0);
}

TEST(DocsSettingsTest, EveryDottedSettingExists) {
  int named = 0;
  EXPECT_THAT(BadDottedSettings(LivePages(), &named), testing::IsEmpty());
  EXPECT_GT(named, 50);
}

// The three checks find what is seeded into a page.
TEST(DocsSettingsTest, FindsSeededDisagreements) {
  std::vector<Page> pages = LivePages();
  const std::vector<std::string> all_keys = UndocumentedKeys({});
  EXPECT_GT(all_keys.size(), 100u);  // with no page, every accepted key is undocumented
  EXPECT_THAT(all_keys, testing::Contains(testing::HasSubstr("`kind_alarm_budget`")));
  pages.push_back({"docs/SEEDED.md",
                   "Text.\n  ```yaml\n  detect:\n    no_such_key: 1\n  ```\n"
                   "```yaml\nlisten_address: 127.0.0.1:7443\nlimits: {max_streams: 8}\n```\n"
                   "See `detect.kind_verdictz`, `limits.max_streams.x`, `detect.db` and detect.kind_verdicts.\n"});
  int blocks = 0, named = 0;
  EXPECT_THAT(BadYamlBlocks({pages.back()}, &blocks),
              testing::ElementsAre(testing::HasSubstr("docs/SEEDED.md:2: the yaml block is neither")));
  EXPECT_EQ(blocks, 2);
  EXPECT_THAT(BadDottedSettings({pages.back()}, &named),
              testing::ElementsAre("docs/SEEDED.md:10: `detect.kind_verdictz` names no setting (DetectConfig has no "
                                   "kind_verdictz)",
                                   "docs/SEEDED.md:10: `limits.max_streams.x` names no setting (max_streams is no "
                                   "section)"));
  EXPECT_EQ(named, 3);
}

}  // namespace
}  // namespace fedlog
