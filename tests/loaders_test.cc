// Readers for upstream formats: CSV edge cases, clear errors on bad rows,
// compressed files.
#include <gtest/gtest.h>

#include "core/errors.h"
#include "core/file_io.h"
#include "tasks/loaders.h"
#include "tests/test_util.h"

namespace llada {
namespace {

TEST(CsvTest, QuotesDoubledQuotesNewlinesCrlfAndBom) {
  const auto rows = ParseCsv("\xEF\xBB\xBFq1,\"a, b\",\"say \"\"hi\"\"\"\r\n\"multi\nline\",x,\n", "t.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"q1", "a, b", "say \"hi\""}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"multi\nline", "x", ""}));
}

TEST(CsvTest, UnterminatedQuoteNamesFileAndLine) {
  const std::string error = testing::UserErrorOf([] { ParseCsv("a,b\nc,\"open\nstill open", "data/x.csv"); });
  EXPECT_NE(error.find("data/x.csv"), std::string::npos) << error;
  EXPECT_NE(error.find("line 2"), std::string::npos) << error;
}

TEST(LoadersTest, MmluCsvProducesCaisMmluShape) {
  LoaderRegistry loaders;
  RegisterBuiltinLoaders(loaders);
  const auto docs = loaders.Get("mmlu_csv")("What?,a,b,c,d,C\n", "x.csv");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0]["question"], "What?");
  EXPECT_EQ(docs[0]["choices"], nlohmann::json({"a", "b", "c", "d"}));
  EXPECT_EQ(docs[0]["answer"], 2);
}

TEST(LoadersTest, MalformedRowsNameFileRowAndField) {
  LoaderRegistry loaders;
  RegisterBuiltinLoaders(loaders);
  std::string error = testing::UserErrorOf([&] { loaders.Get("mmlu_csv")("ok,a,b,c,d,A\nbad,a,b,c,D\n", "test/anatomy_test.csv"); });
  EXPECT_NE(error.find("test/anatomy_test.csv"), std::string::npos) << error;
  EXPECT_NE(error.find("row 2"), std::string::npos) << error;
  EXPECT_NE(error.find("expected 6 fields"), std::string::npos) << error;
  error = testing::UserErrorOf([&] { loaders.Get("mmlu_csv")("q,a,b,c,d,E\n", "x.csv"); });
  EXPECT_NE(error.find("answer"), std::string::npos) << error;
  error = testing::UserErrorOf([&] { loaders.Get("jsonl")("{\"a\": 1}\n{broken\n", "x.jsonl"); });
  EXPECT_NE(error.find("x.jsonl: line 2"), std::string::npos) << error;
  error = testing::UserErrorOf([&] { loaders.Get("parquet"); });
  EXPECT_NE(error.find("unknown dataset loader 'parquet' (known: arc_jsonl, "), std::string::npos) << error;
  EXPECT_NE(error.find(", mmlu_csv, "), std::string::npos) << error;
}

// Hand-written rows in the original upstream formats.
TEST(LoadersTest, OriginalArcPiqaAndTruthfulQaFormats) {
  LoaderRegistry loaders;
  RegisterBuiltinLoaders(loaders);
  const auto arc = loaders.Get("arc_jsonl")(
      R"({"id":"q1","question":{"stem":"Why?","choices":[{"text":"a","label":"1"},{"text":"b","label":"2"}]},"answerKey":"2"})"
      "\n",
      "arc.jsonl");
  ASSERT_EQ(arc.size(), 1u);
  EXPECT_EQ(arc[0]["question"], "Why?");
  EXPECT_EQ(arc[0]["choices"]["text"], nlohmann::json({"a", "b"}));
  EXPECT_EQ(arc[0]["choices"]["label"], nlohmann::json({"1", "2"}));
  EXPECT_NE(testing::UserErrorOf([&] { loaders.Get("arc_jsonl")(R"({"question":"flat"})", "arc.jsonl"); }).find("arc.jsonl: line 1"),
            std::string::npos);

  testing::TempDir tmp;
  const auto piqa = tmp.path() / "valid.jsonl";
  testing::WriteFile(tmp.path() / "valid-labels.lst", "1\n0\n");
  const std::string rows = R"({"goal":"g1","sol1":"x","sol2":"y"})" "\n" R"({"goal":"g2","sol1":"x","sol2":"y"})" "\n";
  const auto docs = loaders.Get("piqa_jsonl")(rows, piqa.string());
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0]["label"], 1);
  EXPECT_EQ(docs[1]["label"], 0);
  testing::WriteFile(tmp.path() / "valid-labels.lst", "1\n");
  EXPECT_NE(testing::UserErrorOf([&] { loaders.Get("piqa_jsonl")(rows, piqa.string()); }).find("1 labels for 2 documents"),
            std::string::npos);

  // Answers keep the file's order (object keys), not sorted order.
  const auto tqa = loaders.Get("truthfulqa_mc_json")(
      R"([{"question":"Q","mc1_targets":{"zeta":1,"alpha":0},"mc2_targets":{"zeta":1,"mid":1,"alpha":0}}])", "mc_task.json");
  ASSERT_EQ(tqa.size(), 1u);
  EXPECT_EQ(tqa[0]["mc1_targets"]["choices"], nlohmann::json({"zeta", "alpha"}));
  EXPECT_EQ(tqa[0]["mc2_targets"]["labels"], nlohmann::json({1, 1, 0}));
}

// HellaSwag's original jsonl (hand-written rows) and lm-eval's preprocess.
TEST(LoadersTest, HellaswagOriginalJsonlIsProcessedAsLmEval) {
  LoaderRegistry loaders;
  RegisterBuiltinLoaders(loaders);
  const auto docs = loaders.Get("hellaswag")(
      R"({"activity_label":"Making a cake","ctx_a":"A woman mixes flour.","ctx_b":"she THEN","endings":["adds [step] eggs  now.","bakes [title] it."],"label":"1"})"
      "\n",
      "hellaswag_val.jsonl");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0]["query"], "Making a cake: A woman mixes flour. She then");
  EXPECT_EQ(docs[0]["choices"], nlohmann::json({"adds eggs now.", "bakes. it."}));
  EXPECT_EQ(docs[0]["label"], 1);
}

// WinoGrande's original jsonl, cut at the blank as lm-eval's partial_context /
// partial_target do.
TEST(LoadersTest, WinograndeOriginalJsonlIsCutAtTheBlank) {
  LoaderRegistry loaders;
  RegisterBuiltinLoaders(loaders);
  const auto docs = loaders.Get("winogrande")(
      R"({"sentence":"Sarah was a better surgeon than Maria so _ always got the easier cases.","option1":"Sarah","option2":"Maria","answer":"2"})"
      "\n",
      "dev.jsonl");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0]["contexts"], nlohmann::json({"Sarah was a better surgeon than Maria so Sarah",
                                                  "Sarah was a better surgeon than Maria so Maria"}));
  EXPECT_EQ(docs[0]["continuation"], "always got the easier cases.");
  EXPECT_EQ(docs[0]["gold"], 1);
  EXPECT_NE(testing::UserErrorOf([&] {
              loaders.Get("winogrande")(R"({"sentence":"no blank","option1":"a","option2":"b","answer":"1"})", "dev.jsonl");
            }).find("no '_' blank"),
            std::string::npos);
}

TEST(FileIoTest, ReadsGzipAndBzip2FromSharedData) {
  LLADA_REQUIRE_SHARED();
  const std::string train = ReadInputFile(testing::SharedDir() / "data" / "gsm8k" / "train.jsonl.gz");
  EXPECT_EQ(std::count(train.begin(), train.end(), '\n'), 7473);  // SOURCE.md: train = 7473
  const std::string hellaswag = ReadInputFile(testing::SharedDir() / "data" / "hellaswag" / "hellaswag_val_full.txt.bz2");
  EXPECT_EQ(std::count(hellaswag.begin(), hellaswag.end(), '\n'), 6 * 10042);  // 6 lines per task
}

TEST(FileIoTest, MissingAndCorruptFilesAreUserErrors) {
  testing::TempDir dir;
  EXPECT_NE(testing::UserErrorOf([&] { ReadInputFile(dir.path() / "nope.jsonl"); }).find("nope.jsonl: file not found"),
            std::string::npos);
  testing::WriteFile(dir.path() / "bad.jsonl.gz", "definitely not gzip");
  EXPECT_NE(testing::UserErrorOf([&] { ReadInputFile(dir.path() / "bad.jsonl.gz"); }).find("gzip"), std::string::npos);
}

}  // namespace
}  // namespace llada

namespace llada {
namespace {

// Archive members are read in memory; an encrypted one needs its password.
TEST(FileIoTest, ReadsZipMembersAndEncryptedOnesWithTheirPassword) {
  LLADA_REQUIRE_SHARED();
  const auto data = testing::SharedDir() / "data";
  const std::string csv = ReadInputFile(data / "ceval" / "ceval-exam.zip#val/computer_network_val.csv");
  EXPECT_EQ(csv.rfind("id,question,A,B,C,D,answer", 0), 0u);
  const auto gpqa = data / "gpqa" / "gpqa_dataset_repacked.zip#dataset/gpqa_main.csv";
  EXPECT_NE(testing::UserErrorOf([&] { ReadInputFile(gpqa); }).find("encrypted"), std::string::npos);
  EXPECT_NE(testing::UserErrorOf([&] { ReadInputFile(gpqa, "wrong-password"); }).find("gpqa_main.csv"), std::string::npos);
  EXPECT_GT(ReadInputFile(gpqa, "deserted-untie-orchid").size(), 100000u);
  EXPECT_NE(testing::UserErrorOf([&] { ReadInputFile(data / "ceval" / "ceval-exam.zip#val/nothing.csv"); })
                .find("no such member"),
            std::string::npos);
}

}  // namespace
}  // namespace llada
