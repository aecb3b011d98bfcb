#!/usr/bin/python3
"""An independent reader of TensorBoard event files, for the tests of monitor/tensorboard.cc.

It re-implements TFRecord framing from TensorFlow's format description (little-endian u64
length, masked CRC-32C of the length, payload, masked CRC-32C of the payload) with a bitwise
CRC-32C (not the table-driven one in base/crc32c.cc), and parses each payload with the real
protobuf runtime (Debian's python3-protobuf) against descriptors of the fields of TensorBoard's
event.proto / summary.proto / tensor.proto that the writer uses, declared here with their
upstream field numbers and types.

Usage: read_tfevents.py FILE -> one JSON object per event on stdout (a scalar that is not
finite as the string "nan" / "inf" / "-inf"); exit 1 naming the record when a length, a CRC
or a payload is bad.
"""
import json
import math
import struct
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(data):
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def build_messages():
    f = descriptor_pb2.FileDescriptorProto()
    f.name = "tensorboard_subset.proto"
    f.package = "tensorboard"
    f.syntax = "proto3"
    T = descriptor_pb2.FieldDescriptorProto

    def message(name, fields):
        m = f.message_type.add()
        m.name = name
        for field_name, number, kind, label, type_name in fields:
            fd = m.field.add()
            fd.name, fd.number, fd.type, fd.label = field_name, number, kind, label
            if type_name:
                fd.type_name = ".tensorboard." + type_name

    one, many = T.LABEL_OPTIONAL, T.LABEL_REPEATED
    message("Dim", [("size", 1, T.TYPE_INT64, one, None), ("name", 2, T.TYPE_STRING, one, None)])
    message("TensorShapeProto", [("dim", 2, T.TYPE_MESSAGE, many, "Dim"),
                                 ("unknown_rank", 3, T.TYPE_BOOL, one, None)])
    message("TensorProto", [("dtype", 1, T.TYPE_INT32, one, None),
                            ("tensor_shape", 2, T.TYPE_MESSAGE, one, "TensorShapeProto"),
                            ("float_val", 5, T.TYPE_FLOAT, many, None),
                            ("string_val", 8, T.TYPE_BYTES, many, None)])
    message("PluginData", [("plugin_name", 1, T.TYPE_STRING, one, None),
                           ("content", 2, T.TYPE_BYTES, one, None)])
    message("SummaryMetadata", [("plugin_data", 1, T.TYPE_MESSAGE, one, "PluginData"),
                                ("display_name", 2, T.TYPE_STRING, one, None),
                                ("summary_description", 3, T.TYPE_STRING, one, None),
                                ("data_class", 4, T.TYPE_INT32, one, None)])
    message("Value", [("node_name", 7, T.TYPE_STRING, one, None),
                      ("tag", 1, T.TYPE_STRING, one, None),
                      ("metadata", 9, T.TYPE_MESSAGE, one, "SummaryMetadata"),
                      ("simple_value", 2, T.TYPE_FLOAT, one, None),
                      ("tensor", 8, T.TYPE_MESSAGE, one, "TensorProto")])
    message("Summary", [("value", 1, T.TYPE_MESSAGE, many, "Value")])
    message("Event", [("wall_time", 1, T.TYPE_DOUBLE, one, None),
                      ("step", 2, T.TYPE_INT64, one, None),
                      ("file_version", 3, T.TYPE_STRING, one, None),
                      ("summary", 5, T.TYPE_MESSAGE, one, "Summary")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    event = pool.FindMessageTypeByName("tensorboard.Event")
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(event)
    return message_factory.MessageFactory(pool).GetPrototype(event)


def main(path):
    Event = build_messages()
    data = open(path, "rb").read()
    pos, index = 0, 0
    while pos < len(data):
        if len(data) - pos < 12:
            sys.exit(f"{path}: record {index}: truncated header at byte {pos}")
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        if masked(header) != length_crc:
            sys.exit(f"{path}: record {index}: bad length CRC at byte {pos}")
        payload = data[pos + 12:pos + 12 + length]
        if len(payload) != length or pos + 16 + length > len(data):
            sys.exit(f"{path}: record {index}: truncated payload at byte {pos}")
        (payload_crc,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
        if masked(payload) != payload_crc:
            sys.exit(f"{path}: record {index}: bad payload CRC at byte {pos}")
        event = Event()
        event.ParseFromString(payload)
        out = {"wall_time": event.wall_time, "step": event.step}
        if event.file_version:
            out["file_version"] = event.file_version
        scalars, texts = {}, {}
        for value in event.summary.value:
            if value.HasField("tensor"):
                t = value.tensor
                if (value.metadata.plugin_data.plugin_name != "text" or t.dtype != 7
                        or len(t.tensor_shape.dim) != 0 or len(t.string_val) != 1):
                    sys.exit(f"{path}: record {index}: tag {value.tag}: not a rank-0 text tensor")
                texts[value.tag] = t.string_val[0].decode("utf-8")
            else:
                v = value.simple_value
                scalars[value.tag] = v if math.isfinite(v) else str(v)  # JSON has no NaN
        if scalars:
            out["scalars"] = scalars
        if texts:
            out["texts"] = texts
        print(json.dumps(out, allow_nan=False))
        pos += 16 + length
        index += 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: read_tfevents.py FILE")
    main(sys.argv[1])
