/**
 * A minimal agent-like process for bench/sources: the NVML source on the fake library, read once a second
 * (samples and processes) for `--seconds`, nothing else (no CLI, no configuration, no spool). With
 * `--brokers`, each tick's samples are also published to Kafka through gpumon's KafkaTransport, which is
 * the agent's sampling path plus its Kafka client. `--idle` only waits, for the floor of the runtime itself.
 * The fake library and scenario come from the environment (see run.ts).
 */
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    library: { type: 'string' },
    seconds: { type: 'string', default: '20' },
    brokers: { type: 'string' },
    idle: { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);

if (values.idle) {
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
} else {
  // Loaded here, so that each layer holds only its own code (run.ts bundles this file with code splitting).
  const { NvmlSource } = await import('../../src/sources/nvml/nvml-source.ts');
  const source = new NvmlSource({ library: values.library as string, host: 'bench' });
  const kafka = values.brokers
    ? new (await import('../../src/transport/kafka/kafka-transport.ts')).KafkaTransport({
        brokers: values.brokers,
        topic: 'bench-sources-agent',
        dlqTopic: 'bench-sources-agent-dlq',
        partitions: 1,
      })
    : undefined;
  await source.open();
  let samples = 0;
  const started = Date.now();
  for (let tick = 0; tick < seconds; tick++) {
    const due = started + tick * 1000;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
    const read = await source.read(Date.now());
    await source.processes();
    await kafka?.publish(read);
    samples += read.length;
  }
  await kafka?.close();
  await source.close();
  console.log(`samples=${samples}${kafka ? ', all published' : ''}`);
}
