/**
 * gpumon's .proto subset of Spark Connect (src/analytics/engines/spark/spark-connect.proto) against the
 * protocol of the Spark that the tests run: the descriptors compiled into pyspark 4.0.1's
 * pyspark/sql/connect/proto/*_pb2.py, generated from apache/spark's connect protos (branch-4.0). Every message
 * and field of the subset must exist there with the same number and type. Needs the pyspark environment of
 * scripts/services/spark-connect.sh; fails without it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sparkConnectDefinition } from '../../src/analytics/engines/spark/client.ts';
import { ROOT } from '../e2e/helpers.ts';
import { sparkRemote } from './helpers.ts';

interface FieldInfo {
  name: string;
  number: number;
  type: string;
  typeName: string;
}

interface DescriptorProto {
  name: string;
  field: { name: string; number: number; type: string; typeName: string }[];
  nestedType: DescriptorProto[];
}

/** Every message of the subset by full name, with its fields (type name: the last part only). */
function ourMessages(): Map<string, FieldInfo[]> {
  const out = new Map<string, FieldInfo[]>();
  const walk = (fullName: string, message: DescriptorProto) => {
    out.set(
      fullName,
      message.field.map((f) => ({
        name: f.name,
        number: f.number,
        type: f.type,
        typeName: f.typeName.split('.').pop() ?? '',
      })),
    );
    for (const nested of message.nestedType) walk(`${fullName}.${nested.name}`, nested);
  };
  for (const [name, value] of Object.entries(sparkConnectDefinition())) {
    const type = (value as { type?: DescriptorProto }).type;
    if (type && 'field' in type) walk(name, type);
  }
  return out;
}

const PYTHON = `
import json, sys
from pyspark.sql.connect.proto import base_pb2, relations_pb2, commands_pb2, common_pb2
from google.protobuf import descriptor
pool = base_pb2.DESCRIPTOR.pool
types = {v: k for k, v in vars(descriptor.FieldDescriptor).items() if k.startswith('TYPE_')}
out = {}
for name in json.load(sys.stdin):
    try:
        d = pool.FindMessageTypeByName(name)
    except KeyError:
        continue
    out[name] = [{'name': f.name, 'number': f.number, 'type': types[f.type],
                  'typeName': (f.message_type or f.enum_type).name if (f.message_type or f.enum_type) else ''}
                 for f in d.fields]
json.dump(out, sys.stdout)
`;

describe('the Spark Connect .proto subset', () => {
  it('has every message and field of pyspark 4.0.1 with the same number and type', () => {
    sparkRemote();
    const ours = ourMessages();
    const theirs = JSON.parse(
      execFileSync(join(ROOT, 'scripts/services/spark-connect.sh'), ['python', '-c', PYTHON], {
        // protobufjs names a map's entry message after the field (Options); protoc adds "Entry".
        input: JSON.stringify([...ours.keys()].flatMap((name) => [name, `${name}Entry`])),
        encoding: 'utf8',
      }),
    ) as Record<string, FieldInfo[]>;
    assert.ok(ours.size >= 25, `${ours.size} messages`);
    for (const [message, fields] of ours) {
      const spark = theirs[message] ?? theirs[`${message}Entry`];
      assert.ok(spark, `${message} is not a message of Spark Connect`);
      for (const field of fields) {
        const match: FieldInfo | undefined = spark.find((f) => f.name === field.name);
        const expected: FieldInfo =
          match?.typeName === `${field.typeName}Entry` ? { ...field, typeName: match.typeName } : field;
        assert.deepEqual(match, expected, `${message}.${field.name}`);
      }
    }
  });
});
