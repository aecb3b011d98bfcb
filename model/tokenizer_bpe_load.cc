// Reads a Hugging Face tokenizer.json (and tokenizer_config.json) into a BpeTokenizer. Only the
// byte-level BPE configurations of the GPT-2, Qwen2/3 and LLaMA-3 families are accepted; any
// other component is an Unimplemented error that names it, never silently ignored.
#include <fstream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/file.h"
#include "base/status.h"
#include "model/tokenizer_bpe.h"
#include "model/tokenizer_utf8.h"

namespace ponder::model {

using Json = nlohmann::json;

// GPT-2's reversible map from bytes to printable characters: printable Latin-1 bytes stand for
// themselves, the others are shifted to U+0100 and up in byte order.
static void ByteLevelAlphabet(char32_t byte_to_char[256]) {
  int next = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    byte_to_char[b] = printable ? b : 0x100 + next++;
  }
}

class BpeLoader {
 public:
  BpeLoader(std::string json_path, std::string config_path)
      : path_(std::move(json_path)), config_path_(std::move(config_path)) {}

  absl::StatusOr<std::unique_ptr<BpeTokenizer>> Load() {
    PONDER_ASSIGN_OR_RETURN(Json root, ReadJson(path_));
    tok_.reset(new BpeTokenizer());
    tok_->source_ = path_;
    if (!root.is_object()) return Bad("the top level is not a JSON object");
    PONDER_RETURN_IF_ERROR(ReadModel(root));
    PONDER_RETURN_IF_ERROR(ReadAddedTokens(root));
    PONDER_RETURN_IF_ERROR(ReadNormalizer(root));
    PONDER_RETURN_IF_ERROR(ReadPreTokenizer(root));
    PONDER_RETURN_IF_ERROR(ReadDecoder(root));
    PONDER_RETURN_IF_ERROR(ReadSpecialTokenNames());
    return std::move(tok_);
  }

 private:
  absl::Status Bad(const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": ", what));
  }
  absl::Status Unsupported(const std::string& what) const {
    return absl::UnimplementedError(absl::StrCat(path_, ": ", what));
  }

  static absl::StatusOr<Json> ReadJson(const std::string& path) {
    PONDER_ASSIGN_OR_RETURN(const std::string text, file::ReadFile(path, "tokenizer file"));
    try {
      return Json::parse(text);
    } catch (const Json::parse_error& e) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": not valid JSON (byte ", e.byte, "): ", e.what()));
    }
  }

  // A string field; `field` is its dotted name for messages.
  absl::StatusOr<std::string> String(const Json& j, const char* key, const std::string& field) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) {
      return Bad(absl::StrCat(field, " is ", it == j.end() ? "missing" : "not a string"));
    }
    return it->get<std::string>();
  }

  absl::StatusOr<bool> Bool(const Json& j, const char* key, bool fallback,
                            const std::string& field) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) return Bad(absl::StrCat(field, " is not true or false"));
    return it->get<bool>();
  }

  // Turns a byte-level spelling into the bytes it stands for.
  bool ToBytes(const std::string& text, std::string* bytes) const {
    bytes->clear();
    for (size_t i = 0; i < text.size();) {
      char32_t cp;
      size_t n = utf8::DecodeOne(std::string_view(text).substr(i), &cp);
      if (n == 0 || cp >= 0x200 || char_to_byte_[cp] < 0) return false;
      bytes->push_back(static_cast<char>(char_to_byte_[cp]));
      i += n;
    }
    return true;
  }

  void SetToken(int32_t id, const std::string& text, std::string bytes) {
    if (static_cast<size_t>(id) >= tok_->token_bytes_.size()) {
      tok_->token_bytes_.resize(id + 1);
      tok_->token_text_.resize(id + 1);
      tok_->present_.resize(id + 1, false);
      tok_->special_.resize(id + 1, false);
    }
    tok_->token_bytes_[id] = std::move(bytes);
    tok_->token_text_[id] = text;
    tok_->present_[id] = true;
  }

  absl::Status ReadModel(const Json& root) {
    auto model = root.find("model");
    if (model == root.end() || !model->is_object()) return Bad("model is missing");
    PONDER_ASSIGN_OR_RETURN(std::string type, String(*model, "type", "model.type"));
    if (type != "BPE") {
      return Unsupported(absl::StrCat("model.type '", type, "' is not supported (only BPE)"));
    }
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      auto it = model->find(key);
      if (it != model->end() && !it->is_null() &&
          !(it->is_string() && it->get<std::string>().empty())) {
        return Unsupported(absl::StrCat("model.", key, " is not supported"));
      }
    }
    auto dropout = model->find("dropout");
    if (dropout != model->end() && !dropout->is_null() &&
        !(dropout->is_number() && dropout->get<double>() == 0.0)) {
      return Unsupported("model.dropout (BPE dropout) is not supported");
    }
    PONDER_ASSIGN_OR_RETURN(bool byte_fallback,
                            Bool(*model, "byte_fallback", false, "model.byte_fallback"));
    if (byte_fallback) {
      return Unsupported(
          "model.byte_fallback is a sentencepiece-style BPE; load the model's tokenizer.model");
    }
    PONDER_ASSIGN_OR_RETURN(tok_->ignore_merges_,
                            Bool(*model, "ignore_merges", false, "model.ignore_merges"));

    char32_t byte_to_char[256];
    ByteLevelAlphabet(byte_to_char);
    std::fill(std::begin(char_to_byte_), std::end(char_to_byte_), -1);
    for (int b = 0; b < 256; ++b) char_to_byte_[byte_to_char[b]] = b;

    auto vocab = model->find("vocab");
    if (vocab == model->end() || !vocab->is_object() || vocab->empty()) {
      return Bad("model.vocab is missing or empty");
    }
    std::fill(std::begin(tok_->byte_ids_), std::end(tok_->byte_ids_), -1);
    std::string bytes;
    for (auto it = vocab->begin(); it != vocab->end(); ++it) {
      if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
          it.value().get<int64_t>() >= (1 << 24)) {
        return Bad(absl::StrCat("model.vocab['", it.key(), "'] is not an id in [0, 2^24)"));
      }
      int32_t id = it.value().get<int32_t>();
      if (!ToBytes(it.key(), &bytes)) {
        return Bad(absl::StrCat("model.vocab token '", it.key(), "' (id ", id,
                                ") is not spelled in the byte-level alphabet"));
      }
      if (static_cast<size_t>(id) < tok_->present_.size() && tok_->present_[id]) {
        return Bad(absl::StrCat("model.vocab gives id ", id, " to both '", tok_->token_text_[id],
                                "' and '", it.key(), "'"));
      }
      if (bytes.size() == 1) tok_->byte_ids_[static_cast<uint8_t>(bytes[0])] = id;
      tok_->by_text_.emplace(it.key(), id);
      tok_->by_bytes_.emplace(bytes, id);
      SetToken(id, it.key(), bytes);
    }
    for (int b = 0; b < 256; ++b) {
      if (tok_->byte_ids_[b] < 0) {
        return Bad(
            absl::StrFormat("model.vocab has no token for byte 0x%02X, so not all text "
                            "can be encoded",
                            b));
      }
    }

    auto merges = model->find("merges");
    if (merges == model->end() || !merges->is_array()) return Bad("model.merges is missing");
    tok_->merges_.reserve(merges->size());
    for (size_t rank = 0; rank < merges->size(); ++rank) {
      const Json& m = (*merges)[rank];
      std::string left, right;
      if (m.is_string()) {  // "a b"
        const std::string& s = m.get_ref<const std::string&>();
        size_t space = s.find(' ');
        if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) {
          return Bad(absl::StrCat("model.merges[", rank, "] '", s,
                                  "' is not two tokens separated by one space"));
        }
        left = s.substr(0, space);
        right = s.substr(space + 1);
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        left = m[0].get<std::string>();
        right = m[1].get<std::string>();
      } else {
        return Bad(absl::StrCat("model.merges[", rank, "] is neither \"a b\" nor [\"a\", \"b\"]"));
      }
      auto l = tok_->by_text_.find(left), r = tok_->by_text_.find(right),
           merged = tok_->by_text_.find(left + right);
      if (l == tok_->by_text_.end() || r == tok_->by_text_.end() ||
          merged == tok_->by_text_.end()) {
        const std::string& missing = l == tok_->by_text_.end()   ? left
                                     : r == tok_->by_text_.end() ? right
                                                                 : left + right;
        return Bad(absl::StrCat("model.merges[", rank, "] '", left, " ", right, "': '", missing,
                                "' is not in model.vocab"));
      }
      // The first rule for a pair wins, as in Hugging Face tokenizers.
      tok_->merges_.try_emplace(BpeTokenizer::PairKey(l->second, r->second),
                                BpeTokenizer::Merge{static_cast<int32_t>(rank), merged->second});
    }
    return absl::OkStatus();
  }

  absl::Status ReadAddedTokens(const Json& root) {
    tok_->added_by_first_byte_.resize(256);
    auto added = root.find("added_tokens");
    if (added == root.end() || added->is_null()) return absl::OkStatus();
    if (!added->is_array()) return Bad("added_tokens is not a list");
    for (size_t i = 0; i < added->size(); ++i) {
      const Json& t = (*added)[i];
      std::string field = absl::StrCat("added_tokens[", i, "]");
      if (!t.is_object()) return Bad(absl::StrCat(field, " is not an object"));
      auto id_it = t.find("id");
      if (id_it == t.end() || !id_it->is_number_integer() || id_it->get<int64_t>() < 0 ||
          id_it->get<int64_t>() >= (1 << 24)) {
        return Bad(absl::StrCat(field, ".id is missing or not an id in [0, 2^24)"));
      }
      int32_t id = id_it->get<int32_t>();
      PONDER_ASSIGN_OR_RETURN(std::string content,
                              String(t, "content", absl::StrCat(field, ".content")));
      if (content.empty()) return Bad(absl::StrCat(field, ".content is empty"));
      for (const char* flag : {"lstrip", "rstrip", "single_word"}) {
        PONDER_ASSIGN_OR_RETURN(bool on, Bool(t, flag, false, absl::StrCat(field, ".", flag)));
        if (on) {
          return Unsupported(
              absl::StrCat(field, " ('", content, "') sets ", flag, ", which is not supported"));
        }
      }
      PONDER_ASSIGN_OR_RETURN(bool special, Bool(t, "special", false, field + ".special"));
      bool in_vocab = static_cast<size_t>(id) < tok_->present_.size() && tok_->present_[id];
      if (in_vocab && tok_->token_text_[id] != content) {
        return Bad(absl::StrCat(field, " gives id ", id, " to '", content,
                                "', which model.vocab gives to '", tok_->token_text_[id], "'"));
      }
      SetToken(id, content, content);
      tok_->special_[id] = special;
      tok_->by_text_[content] = id;
      tok_->added_by_first_byte_[static_cast<uint8_t>(content[0])].emplace_back(content, id);
    }
    for (auto& list : tok_->added_by_first_byte_) {
      std::sort(list.begin(), list.end(),
                [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    }
    return absl::OkStatus();
  }

  absl::Status ReadNormalizer(const Json& root) {
    auto norm = root.find("normalizer");
    if (norm == root.end() || norm->is_null()) return absl::OkStatus();
    std::vector<const Json*> list;
    PONDER_ASSIGN_OR_RETURN(std::string type, String(*norm, "type", "normalizer.type"));
    if (type == "Sequence") {
      auto items = norm->find("normalizers");
      if (items == norm->end() || !items->is_array()) {
        return Bad("normalizer.normalizers is missing");
      }
      for (const Json& item : *items) list.push_back(&item);
    } else {
      list.push_back(&*norm);
    }
    for (const Json* item : list) {
      PONDER_ASSIGN_OR_RETURN(std::string t, String(*item, "type", "normalizer.type"));
      if (t != "NFC") {
        return Unsupported(absl::StrCat("normalizer '", t, "' is not supported (only NFC)"));
      }
      tok_->nfc_ = true;
    }
    return absl::OkStatus();
  }

  absl::Status ReadPreTokenizer(const Json& root) {
    auto pre = root.find("pre_tokenizer");
    if (pre == root.end() || pre->is_null()) {
      return Unsupported("a byte-level BPE needs a ByteLevel pre_tokenizer; this file has none");
    }
    std::vector<const Json*> list;
    PONDER_ASSIGN_OR_RETURN(std::string type, String(*pre, "type", "pre_tokenizer.type"));
    if (type == "Sequence") {
      auto items = pre->find("pretokenizers");
      if (items == pre->end() || !items->is_array()) {
        return Bad("pre_tokenizer.pretokenizers is missing");
      }
      for (const Json& item : *items) list.push_back(&item);
    } else {
      list.push_back(&*pre);
    }
    bool byte_level = false;
    for (size_t i = 0; i < list.size(); ++i) {
      const Json& p = *list[i];
      std::string field = list.size() > 1 ? absl::StrCat("pre_tokenizer.pretokenizers[", i, "]")
                                          : std::string("pre_tokenizer");
      PONDER_ASSIGN_OR_RETURN(std::string t, String(p, "type", field + ".type"));
      std::string pattern;
      if (t == "ByteLevel") {
        if (byte_level) return Unsupported(field + ": a second ByteLevel pre-tokenizer");
        byte_level = true;
        PONDER_ASSIGN_OR_RETURN(tok_->add_prefix_space_,
                                Bool(p, "add_prefix_space", false, field + ".add_prefix_space"));
        PONDER_ASSIGN_OR_RETURN(bool use_regex, Bool(p, "use_regex", true, field + ".use_regex"));
        if (!use_regex) continue;
        pattern = PretokenizerRegex::kGpt2Pattern;
      } else if (t == "Split") {
        if (byte_level) return Unsupported(field + ": a Split after the ByteLevel pre-tokenizer");
        auto pat = p.find("pattern");
        if (pat == p.end() || !pat->is_object()) return Bad(field + ".pattern is missing");
        if (pat->contains("Regex") && (*pat)["Regex"].is_string()) {
          pattern = (*pat)["Regex"].get<std::string>();
        } else {
          return Unsupported(field + ".pattern: only {\"Regex\": ...} patterns are supported");
        }
        auto behavior = p.find("behavior");
        if (behavior == p.end() || *behavior != "Isolated") {
          return Unsupported(field + ".behavior: only 'Isolated' is supported");
        }
        PONDER_ASSIGN_OR_RETURN(bool invert, Bool(p, "invert", false, field + ".invert"));
        if (invert) return Unsupported(field + ".invert is not supported");
      } else {
        return Unsupported(absl::StrCat(field, ": pre-tokenizer '", t,
                                        "' is not supported (only Split and ByteLevel)"));
      }
      absl::StatusOr<std::unique_ptr<PretokenizerRegex>> regex = PretokenizerRegex::Create(pattern);
      if (!regex.ok()) return Bad(absl::StrCat(field, ": ", regex.status().message()));
      tok_->splits_.push_back(std::move(*regex));
    }
    if (!byte_level) {
      return Unsupported(
          "the pre_tokenizer has no ByteLevel step; only byte-level BPE is "
          "supported");
    }
    return absl::OkStatus();
  }

  absl::Status ReadDecoder(const Json& root) {
    auto dec = root.find("decoder");
    if (dec == root.end() || dec->is_null()) return absl::OkStatus();
    PONDER_ASSIGN_OR_RETURN(std::string type, String(*dec, "type", "decoder.type"));
    if (type != "ByteLevel") {
      return Unsupported(absl::StrCat("decoder '", type, "' is not supported (only ByteLevel)"));
    }
    return absl::OkStatus();
  }

  // BOS/EOS/PAD come from tokenizer_config.json; without one, GPT-2's <|endoftext|> is both.
  absl::Status ReadSpecialTokenNames() {
    std::ifstream probe(config_path_);
    if (config_path_.empty() || !probe) {
      std::optional<int32_t> eot = tok_->TokenToId("<|endoftext|>");
      tok_->bos_id_ = tok_->eos_id_ = eot;
      return absl::OkStatus();
    }
    PONDER_ASSIGN_OR_RETURN(Json config, ReadJson(config_path_));
    if (!config.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(config_path_, ": the top level is not a JSON object"));
    }
    auto lookup = [&](const char* key, std::optional<int32_t>* id) -> absl::Status {
      auto it = config.find(key);
      if (it == config.end() || it->is_null()) return absl::OkStatus();
      std::string name;
      if (it->is_string()) {
        name = it->get<std::string>();
      } else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
        name = (*it)["content"].get<std::string>();
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            config_path_, ": ", key, " is neither a token string nor {\"content\": ...}"));
      }
      *id = tok_->TokenToId(name);
      if (!id->has_value()) {
        return absl::InvalidArgumentError(
            absl::StrCat(config_path_, ": ", key, " '", name, "' is not a token of ", path_));
      }
      return absl::OkStatus();
    };
    PONDER_RETURN_IF_ERROR(lookup("bos_token", &tok_->bos_id_));
    PONDER_RETURN_IF_ERROR(lookup("eos_token", &tok_->eos_id_));
    PONDER_RETURN_IF_ERROR(lookup("pad_token", &tok_->pad_id_));
    return absl::OkStatus();
  }

  std::string path_, config_path_;
  std::unique_ptr<BpeTokenizer> tok_;
  int char_to_byte_[0x200];
};

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::Load(const std::string& json_path,
                                                                 const std::string& config_path) {
  return BpeLoader(json_path, config_path).Load();
}

}  // namespace ponder::model
