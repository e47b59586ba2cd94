// Checks a Kafka broker with Kafka's own Java clients (kafka-clients, from the broker's class path in
// .cache/kafka/<version>/libs). Used by scripts/services/kafka.sh (readiness) and by the services smoke test.
//
//   ready BOOTSTRAP TIMEOUT_S         waits until a metadata request (describeCluster + listTopics) answers
//   roundtrip BOOTSTRAP TOPIC COUNT   creates TOPIC, produces COUNT records (acks=all, idempotent, lz4), consumes
//                                     them in a consumer group that commits, and prints one JSON line
//
// Exit status 0 on success, 1 on failure (the reason on stderr).
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class KafkaCheck {
  public static void main(String[] args) throws Exception {
    if (args.length < 2) usage();
    try {
      switch (args[0]) {
        case "ready" -> ready(args[1], args.length > 2 ? Integer.parseInt(args[2]) : 60);
        case "roundtrip" -> {
          if (args.length < 4) usage();
          roundtrip(args[1], args[2], Integer.parseInt(args[3]));
        }
        default -> usage();
      }
    } catch (ExecutionException e) {
      fail(e.getCause() == null ? e.toString() : e.getCause().toString());
    } catch (Exception e) {
      fail(e.toString());
    }
  }

  static void usage() {
    fail("usage: KafkaCheck ready BOOTSTRAP [TIMEOUT_S] | roundtrip BOOTSTRAP TOPIC COUNT");
  }

  static void fail(String why) {
    System.err.println("KafkaCheck: " + why);
    System.exit(1);
  }

  static Properties admin(String bootstrap) {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
    p.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
    return p;
  }

  /** Retries describeCluster + listTopics until the broker is registered (unfenced) and answers metadata. */
  static void ready(String bootstrap, int timeoutS) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(timeoutS).toNanos();
    String last = "no answer";
    try (Admin admin = Admin.create(admin(bootstrap))) {
      while (System.nanoTime() < deadline) {
        try {
          DescribeClusterResult c = admin.describeCluster();
          var nodes = c.nodes().get();
          Node controller = c.controller().get();
          admin.listTopics().names().get();
          if (!nodes.isEmpty() && controller != null && !controller.isEmpty()) {
            System.out.println("cluster " + c.clusterId().get() + ": " + nodes.size() + " broker(s), controller " + controller.id());
            return;
          }
          last = "no broker registered yet";
        } catch (ExecutionException e) {
          last = String.valueOf(e.getCause());
        }
        Thread.sleep(250);
      }
    }
    fail("broker at " + bootstrap + " not ready after " + timeoutS + "s: " + last);
  }

  static void roundtrip(String bootstrap, String topic, int count) throws Exception {
    try (Admin admin = Admin.create(admin(bootstrap))) {
      admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
    }
    Properties pp = new Properties();
    pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    pp.put(ProducerConfig.ACKS_CONFIG, "all");
    pp.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    pp.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
    pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    long lastOffset = -1;
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp)) {
      List<java.util.concurrent.Future<RecordMetadata>> sent = new ArrayList<>();
      for (int i = 0; i < count; i++) sent.add(producer.send(new ProducerRecord<>(topic, "k" + i, "v" + i)));
      producer.flush();
      for (var f : sent) lastOffset = f.get().offset();
    }
    String group = "gpumon-check-" + topic;
    Properties cp = new Properties();
    cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    cp.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    List<String> values = new ArrayList<>();
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cp)) {
      consumer.subscribe(List.of(topic));
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (values.size() < count && System.nanoTime() < deadline) {
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) values.add(r.key() + "=" + r.value());
      }
      consumer.commitSync();
    }
    long committed = -1;
    try (Admin admin = Admin.create(admin(bootstrap))) {
      Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
      OffsetAndMetadata o = offsets.get(new TopicPartition(topic, 0));
      if (o != null) committed = o.offset();
      Set<String> topics = admin.listTopics().names().get();
      if (!topics.contains(topic)) fail("topic " + topic + " not listed");
    }
    StringBuilder json = new StringBuilder();
    json.append("{\"topic\":\"").append(topic).append("\",\"lastOffset\":").append(lastOffset)
        .append(",\"committed\":").append(committed).append(",\"consumed\":[");
    for (int i = 0; i < values.size(); i++) json.append(i == 0 ? "" : ",").append('"').append(values.get(i)).append('"');
    System.out.println(json.append("]}"));
  }
}
