#include "reward/internal/proto_convert.h"

#include <cmath>

namespace ponder::reward::internal {

void JsonToValue(const nlohmann::json& json, google::protobuf::Value* value) {
  switch (json.type()) {
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      value->set_null_value(google::protobuf::NULL_VALUE);
      return;
    case nlohmann::json::value_t::boolean:
      value->set_bool_value(json.get<bool>());
      return;
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      value->set_number_value(json.get<double>());
      return;
    case nlohmann::json::value_t::string:
      value->set_string_value(json.get<std::string>());
      return;
    case nlohmann::json::value_t::array: {
      auto* list = value->mutable_list_value();
      for (const auto& item : json) JsonToValue(item, list->add_values());
      return;
    }
    case nlohmann::json::value_t::object:
      JsonToStruct(json, value->mutable_struct_value());
      return;
    case nlohmann::json::value_t::binary:
      value->set_null_value(google::protobuf::NULL_VALUE);
      return;
  }
}

nlohmann::json ValueToJson(const google::protobuf::Value& value) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kNullValue:
    case google::protobuf::Value::KIND_NOT_SET:
      return nullptr;
    case google::protobuf::Value::kBoolValue:
      return value.bool_value();
    case google::protobuf::Value::kNumberValue: {
      double d = value.number_value();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) <= 9007199254740992.0) {
        return static_cast<int64_t>(d);
      }
      return d;
    }
    case google::protobuf::Value::kStringValue:
      return value.string_value();
    case google::protobuf::Value::kListValue: {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& item : value.list_value().values()) list.push_back(ValueToJson(item));
      return list;
    }
    case google::protobuf::Value::kStructValue:
      return StructToJson(value.struct_value());
  }
  return nullptr;
}

void JsonToStruct(const nlohmann::json& json, google::protobuf::Struct* out) {
  out->Clear();
  if (!json.is_object()) return;
  for (const auto& [key, item] : json.items()) JsonToValue(item, &(*out->mutable_fields())[key]);
}

nlohmann::json StructToJson(const google::protobuf::Struct& s) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, item] : s.fields()) out[key] = ValueToJson(item);
  return out;
}

void InputToItem(const VerifyInput& input, const std::string& id, ponder::v1::ScoreItem* item) {
  item->set_id(id);
  item->set_prompt(input.prompt);
  item->set_response(input.response);
  JsonToValue(input.ground_truth, item->mutable_ground_truth());
  JsonToStruct(input.metadata, item->mutable_metadata());
  item->set_data_source(input.data_source);
}

VerifyInput ItemToInput(const ponder::v1::ScoreItem& item) {
  VerifyInput input;
  input.prompt = item.prompt();
  input.response = item.response();
  input.ground_truth = item.has_ground_truth() ? ValueToJson(item.ground_truth()) : nullptr;
  input.metadata = StructToJson(item.metadata());
  input.data_source = item.data_source();
  return input;
}

void ItemResultToProto(const ItemResult& result, const std::string& id,
                       ponder::v1::ScoreResult* out) {
  out->set_id(id);
  out->set_seconds(result.seconds);
  if (!result.status.ok()) {
    out->mutable_error()->set_code(static_cast<int>(result.status.code()));
    out->mutable_error()->set_message(std::string(result.status.message()));
    return;
  }
  const VerifyResult& r = result.result;
  out->set_score(r.score);
  out->set_correct(!r.correct.has_value() ? ponder::v1::CORRECTNESS_UNSPECIFIED
                   : *r.correct           ? ponder::v1::CORRECTNESS_CORRECT
                                          : ponder::v1::CORRECTNESS_INCORRECT);
  for (const auto& [key, value] : r.components) (*out->mutable_components())[key] = value;
  JsonToStruct(r.details, out->mutable_details());
}

ItemResult ProtoToItemResult(const ponder::v1::ScoreResult& result) {
  ItemResult out;
  out.seconds = result.seconds();
  if (result.has_error() && result.error().code() != 0) {
    int code = result.error().code();
    if (code < 0 || code > 16) code = static_cast<int>(absl::StatusCode::kUnknown);
    out.status = absl::Status(static_cast<absl::StatusCode>(code), result.error().message());
    return out;
  }
  out.result.score = result.score();
  if (result.correct() == ponder::v1::CORRECTNESS_CORRECT) out.result.correct = true;
  if (result.correct() == ponder::v1::CORRECTNESS_INCORRECT) out.result.correct = false;
  for (const auto& [key, value] : result.components()) out.result.components[key] = value;
  out.result.details = StructToJson(result.details());
  return out;
}

}  // namespace ponder::reward::internal
