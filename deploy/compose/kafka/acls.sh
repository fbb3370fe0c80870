#!/bin/bash
# Least privilege on the broker (run once by the kafka-acls service, as admin; re-running
# adds nothing new).  With allow.everyone.if.no.acl.found=false, what is not granted here
# is refused:
#   newsflow-publisher  writes news.raw, nothing else
#   newsflow-api        reads and writes the rules topic, nothing else
#   newsflow-feeds      reads and writes news.feeds, writes news.raw
#   newsflow-worker     its topics (news.*), Faust's internal topics and its group
set -euo pipefail
umask 077
conf=/tmp/newsflow-acls.properties
cat > "$conf" <<PROPERTIES
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$KAFKA_ADMIN_PASSWORD";
ssl.truststore.type=PEM
ssl.truststore.location=/certs/public/ca.crt
PROPERTIES

acl() {
  /opt/kafka/bin/kafka-acls.sh --bootstrap-server kafka:9092 --command-config "$conf" --add --force "$@"
}
group="${NEWSFLOW_CONSUMER_GROUP:-newsflow}"

acl --allow-principal User:newsflow-publisher --operation Write --operation Describe \
    --topic "${NEWSFLOW_TOPIC_RAW:-news.raw}"
acl --allow-principal User:newsflow-api --operation Read --operation Write --operation Describe \
    --topic "${NEWSFLOW_TOPIC_ALERT_RULES:-news.alert-rules}"
acl --allow-principal User:newsflow-feeds --operation Read --operation Write --operation Describe \
    --topic "${NEWSFLOW_TOPIC_FEEDS:-news.feeds}"
acl --allow-principal User:newsflow-feeds --operation Write --operation Describe \
    --topic "${NEWSFLOW_TOPIC_RAW:-news.raw}"
acl --allow-principal User:newsflow-worker --operation Read --operation Write --operation Describe \
    --resource-pattern-type prefixed --topic news.
# Faust's changelog and repartition topics are named after the app id (the group).
acl --allow-principal User:newsflow-worker --operation All \
    --resource-pattern-type prefixed --topic "$group"
acl --allow-principal User:newsflow-worker --operation Read --operation Describe \
    --resource-pattern-type prefixed --group "$group"
acl --allow-principal User:newsflow-worker --operation Describe --operation DescribeConfigs --cluster
echo "ACLs in place"
