#!/bin/bash
# The broker of the compose deployment: KRaft, every listener SASL_SSL, the standard
# authorizer with no access unless an ACL grants it (acls.sh), SCRAM users created when
# the log folder is formatted (first start only: changing a password in .env later needs
# `kafka-configs.sh --alter --add-config SCRAM-SHA-512=[…]`).  Secrets arrive as
# environment variables from .env and are written only to 0600 files in a 0700 folder.
#
# Paths and addresses default to the container's; tests/integration/stack/
# test_secured_broker.py runs this same script on the host against the local Kafka jars.
set -euo pipefail
bin=${KAFKA_BIN:-/opt/kafka/bin}
certs=${KAFKA_CERTS:-/certs/kafka}
data=${KAFKA_DATA:-/var/lib/kafka/data}
conf_dir=${KAFKA_CONF_DIR:-/tmp/newsflow-kafka}
host=${KAFKA_ADVERTISED_HOST:-kafka}
bind=${KAFKA_BIND:-}
internal=${KAFKA_INTERNAL_PORT:-9092}
controller=${KAFKA_CONTROLLER_PORT:-9093}
outside=${KAFKA_OUTSIDE_PORT:-9094}

for name in KAFKA_ADMIN_PASSWORD KAFKA_WORKER_PASSWORD KAFKA_API_PASSWORD KAFKA_PUBLISHER_PASSWORD \
            KAFKA_FEEDS_PASSWORD; do
  # They go into JAAS and SCRAM syntax unescaped: keep them to a safe alphabet.
  if [[ ! "${!name:-}" =~ ^[A-Za-z0-9_.-]{16,}$ ]]; then
    echo "$name must be 16 or more letters, digits, '.', '_' or '-' (see .env.example)" >&2
    exit 1
  fi
done

umask 077
mkdir -p "$conf_dir"
chmod 700 "$conf_dir"
scram='org.apache.kafka.common.security.scram.ScramLoginModule required'
plain='org.apache.kafka.common.security.plain.PlainLoginModule required'

cat > "$conf_dir/server.properties" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$host:$controller
controller.listener.names=CONTROLLER
listeners=INTERNAL://$bind:$internal,CONTROLLER://$bind:$controller,HOST://$bind:$outside
advertised.listeners=INTERNAL://$host:$internal,HOST://localhost:${KAFKA_HOST_PORT:-9094}
listener.security.protocol.map=INTERNAL:SASL_SSL,CONTROLLER:SASL_SSL,HOST:SASL_SSL
inter.broker.listener.name=INTERNAL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
# KRaft controllers cannot use SCRAM (its credentials live in the metadata they serve).
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=$plain username="controller" password="$KAFKA_ADMIN_PASSWORD" user_controller="$KAFKA_ADMIN_PASSWORD";
listener.name.internal.scram-sha-512.sasl.jaas.config=$scram username="admin" password="$KAFKA_ADMIN_PASSWORD";
listener.name.host.scram-sha-512.sasl.jaas.config=$scram;
ssl.keystore.type=PEM
ssl.keystore.location=$certs/kafka.pem
ssl.truststore.type=PEM
ssl.truststore.location=$certs/ca.crt
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:controller
log.dirs=$data
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPERTIES

# What the health check and acls.sh log in with.
cat > "$conf_dir/admin.properties" <<PROPERTIES
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=$scram username="admin" password="$KAFKA_ADMIN_PASSWORD";
ssl.truststore.type=PEM
ssl.truststore.location=$certs/ca.crt
PROPERTIES

"$bin/kafka-storage.sh" format --ignore-formatted --cluster-id "$CLUSTER_ID" \
  --config "$conf_dir/server.properties" \
  --add-scram "SCRAM-SHA-512=[name=admin,password=$KAFKA_ADMIN_PASSWORD]" \
  --add-scram "SCRAM-SHA-512=[name=newsflow-worker,password=$KAFKA_WORKER_PASSWORD]" \
  --add-scram "SCRAM-SHA-512=[name=newsflow-api,password=$KAFKA_API_PASSWORD]" \
  --add-scram "SCRAM-SHA-512=[name=newsflow-publisher,password=$KAFKA_PUBLISHER_PASSWORD]" \
  --add-scram "SCRAM-SHA-512=[name=newsflow-feeds,password=$KAFKA_FEEDS_PASSWORD]"

exec "$bin/kafka-server-start.sh" "$conf_dir/server.properties"
