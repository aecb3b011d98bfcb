// Conversions between the RewardService messages and the plain C++ types the verifiers use.
// The transport converts once, at the edge; nothing past it sees protobuf.
#pragma once

#include "absl/status/status.h"
#include "google/protobuf/struct.pb.h"
#include "nlohmann/json.hpp"
#include "ponder/v1/reward.pb.h"
#include "reward/reward.h"

namespace ponder::reward::internal {

// JSON <-> google.protobuf.Value. Numbers that are whole and fit in 2^53 come back as JSON
// integers (a Value holds a double), so {"target": 24} survives the round trip as an integer.
void JsonToValue(const nlohmann::json& json, google::protobuf::Value* value);
nlohmann::json ValueToJson(const google::protobuf::Value& value);
// An object (non-objects become an empty Struct).
void JsonToStruct(const nlohmann::json& json, google::protobuf::Struct* out);
nlohmann::json StructToJson(const google::protobuf::Struct& s);

void InputToItem(const VerifyInput& input, const std::string& id, ponder::v1::ScoreItem* item);
VerifyInput ItemToInput(const ponder::v1::ScoreItem& item);

void ItemResultToProto(const ItemResult& result, const std::string& id,
                       ponder::v1::ScoreResult* out);
ItemResult ProtoToItemResult(const ponder::v1::ScoreResult& result);

}  // namespace ponder::reward::internal
