// Kibana's KQL translation, as its search bar does it: one KQL query per input line (JSON
// string), one JSON answer per output line: {"dsl": ...} or {"error": "..."}.
// No index pattern is given, so fields are sent as typed and a query without a field
// reaches the index's default fields (index.query.default_field), as in Kibana.
'use strict';
const readline = require('readline');
const { fromKueryExpression, toElasticsearchQuery } = require('@cybernetex/kbn-es-query');

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (!line.trim()) return;
  const query = JSON.parse(line);
  try {
    process.stdout.write(JSON.stringify({ dsl: toElasticsearchQuery(fromKueryExpression(query)) }) + '\n');
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: String(e.message).split('\n')[0] }) + '\n');
  }
});
