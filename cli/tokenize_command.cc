// `ponder tokenize --tokenizer PATH (--text TEXT | --input FILE) [--decode] [--bos] [--eos]
//  [--no-special]`: prints the token ids of each input line as a JSON array, one line per input
// line; with --decode each input line is a JSON array of ids and its text is printed instead.
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "model/tokenizer.h"

namespace ponder::cli {
namespace {

struct TokenizeArgs {
  std::string tokenizer;
  std::string text;
  std::string input;
  bool decode = false;
  bool bos = false;
  bool eos = false;
  bool no_special = false;
  bool skip_special = false;
};

// Handles one input line; `where` names it in errors ("--text", "FILE:LINE").
absl::Status ProcessLine(const model::Tokenizer& tok, const TokenizeArgs& args,
                         const std::string& line, const std::string& where, std::string* out,
                         std::vector<int32_t>* ids) {
  if (!args.decode) {
    ids->clear();
    model::EncodeOptions options{
        .add_bos = args.bos, .add_eos = args.eos, .parse_special = !args.no_special};
    absl::Status status = tok.EncodeTo(line, options, ids);
    if (!status.ok())
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", status.message()));
    out->push_back('[');
    for (size_t i = 0; i < ids->size(); ++i) {
      if (i > 0) out->append(", ");
      absl::StrAppend(out, (*ids)[i]);
    }
    out->append("]\n");
    return absl::OkStatus();
  }
  nlohmann::json parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": expected a JSON array of token ids, got '", line, "'"));
  }
  ids->clear();
  for (const nlohmann::json& id : parsed) {
    if (!id.is_number_integer() || id.get<int64_t>() < INT32_MIN || id.get<int64_t>() > INT32_MAX) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": token ids must be integers, got ", id.dump()));
    }
    ids->push_back(id.get<int32_t>());
  }
  absl::StatusOr<std::string> text = tok.Decode(*ids, {.skip_special = args.skip_special});
  if (!text.ok())
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", text.status().message()));
  out->append(*text);
  out->push_back('\n');
  return absl::OkStatus();
}

absl::Status Run(const TokenizeArgs& args) {
  absl::StatusOr<std::unique_ptr<model::Tokenizer>> tok = model::LoadTokenizer(args.tokenizer);
  if (!tok.ok()) return tok.status();
  std::string out;
  std::vector<int32_t> ids;
  if (args.input.empty()) {
    absl::Status status = ProcessLine(**tok, args, args.text, "--text", &out, &ids);
    std::cout << out;
    return status;
  }
  std::ifstream file;
  std::istream* in = &std::cin;
  if (args.input != "-") {
    file.open(args.input, std::ios::binary);
    if (!file)
      return absl::NotFoundError(absl::StrCat("cannot read input file '", args.input, "'"));
    in = &file;
  }
  std::string line;
  for (int64_t number = 1; std::getline(*in, line); ++number) {
    absl::Status status =
        ProcessLine(**tok, args, line, absl::StrCat(args.input, ":", number), &out, &ids);
    if (!status.ok()) {
      std::cout << out;
      return status;
    }
    if (out.size() > (1 << 16)) {
      std::cout << out;
      out.clear();
    }
  }
  std::cout << out;
  return absl::OkStatus();
}

}  // namespace

void AddTokenizeCommand(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "tokenize", "Print the token ids of text as JSON (one line per input line), or decode ids");
  auto args = std::make_shared<TokenizeArgs>();
  cmd->add_option("--tokenizer", args->tokenizer,
                  "tokenizer.json, sentencepiece .model, llama2.c .bin, a model folder, or "
                  "chars:<alphabet>")
      ->required();
  CLI::Option* text = cmd->add_option("--text", args->text, "the text (one input)");
  CLI::Option* input =
      cmd->add_option("--input", args->input, "a file with one input per line ('-': stdin)");
  text->excludes(input);
  input->excludes(text);
  cmd->add_flag("--decode", args->decode,
                "inputs are JSON arrays of ids; print their text instead");
  cmd->add_flag("--bos", args->bos, "put the BOS token first (when the tokenizer has one)");
  cmd->add_flag("--eos", args->eos, "put the EOS token last (when the tokenizer has one)");
  cmd->add_flag("--no-special", args->no_special,
                "encode the text of special tokens (<|im_start|>, <s>) as plain text");
  cmd->add_flag("--skip-special", args->skip_special, "with --decode: leave out special tokens");
  cmd->callback([args, text, input, &exit_code] {
    if (text->count() == 0 && input->count() == 0) {
      std::cerr << "ponder tokenize: give --text TEXT or --input FILE\n";
      exit_code = 2;
      return;
    }
    absl::Status status = Run(*args);
    if (!status.ok()) {
      std::cerr << "ponder tokenize: " << status.message() << "\n";
      exit_code = 1;
      return;
    }
    exit_code = 0;
  });
}

}  // namespace ponder::cli
