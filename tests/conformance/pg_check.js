// Conformance script for node-postgres (pg, with pg-cursor and pg-copy-streams). It
// runs once directly against PostgreSQL and once through the gateway, and the two
// transcripts it prints must be byte-identical. Run it with NODE_PATH set to the
// node_modules directory that tests/conformance/setup.sh fills.
//
// Connection parameters come from PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE.
// PGSSLMODE=verify-full makes the script verify the server certificate against
// PGSSLROOTCERT and the host name; any other value connects without TLS. Every table
// is temporary, so both runs start from the same state.
//
// Normalized: backend PIDs. The transcript shows whether a notification came from the
// session's own backend (pg_backend_pid()) or another one, and that client.processID
// is positive, never the numbers themselves.
//
// node-postgres has no public API to cancel a running query, so this script does not
// send a CancelRequest. The script exits with status 1 when a step threw an error
// that the step did not expect; the error is also printed in the transcript.

'use strict';

const crypto = require('crypto');
const fs = require('fs');
const { Readable, Writable } = require('stream');
const { pipeline } = require('stream/promises');

const { Client } = require('pg');
const Cursor = require('pg-cursor');
const copyStreams = require('pg-copy-streams');

const lines = [];
const unexpected = [];
const CHANNEL = 'conformance_node';

function out(...parts) {
  lines.push(parts.join(' '));
}

// Renders a value as JSON, with Buffers as hex and Dates as ISO 8601 text.
function show(value) {
  return JSON.stringify(value, function replacer(key, item) {
    const original = this[key];
    if (Buffer.isBuffer(original)) {
      return `bytes:${original.toString('hex')}`;
    }
    if (original instanceof Date) {
      return `Date:${original.toISOString()}`;
    }
    return item;
  });
}

function describeError(error) {
  const fields = ['severity', 'code', 'message', 'detail', 'hint', 'position', 'where', 'table', 'column', 'constraint'];
  return fields.map((field) => `${field}=${error[field] === undefined ? 'none' : show(error[field])}`).join(' ');
}

async function expectError(action) {
  try {
    await action();
    out('error: none raised');
  } catch (error) {
    out('error:', describeError(error));
  }
}

function describeResult(label, result) {
  out(label, 'command:', result.command, 'rowCount:', show(result.rowCount));
  if (result.fields && result.fields.length > 0) {
    out(label, 'fields:', show(result.fields.map((f) => [f.name, f.dataTypeID, f.dataTypeSize, f.dataTypeModifier, f.format])));
  }
  for (const row of result.rows) {
    out(label, 'row:', show(row));
  }
}

function connectionConfig() {
  const config = {
    host: process.env.PGHOST,
    port: Number(process.env.PGPORT),
    user: process.env.PGUSER,
    password: process.env.PGPASSWORD,
    database: process.env.PGDATABASE,
    ssl: false,
  };
  if (process.env.PGSSLMODE === 'verify-full') {
    config.ssl = { ca: fs.readFileSync(process.env.PGSSLROOTCERT), rejectUnauthorized: true };
  }
  return config;
}

async function connect() {
  const client = new Client(connectionConfig());
  client.on('notice', (notice) => out('notice:', describeError(notice)));
  await client.connect();
  return client;
}

async function step(name, body) {
  out(`== ${name}`);
  try {
    await body();
  } catch (error) {
    out(`!! unexpected ${error.name}: ${error.message}`);
    unexpected.push(name);
    console.error(error);
  }
}

async function session(client) {
  out('processID positive:', client.processID > 0);
  out('identity:', show((await client.query('SELECT current_user, session_user, current_database()')).rows));
  await client.query("SET TimeZone = 'America/New_York'");
  out('TimeZone:', show((await client.query('SHOW TimeZone')).rows));
}

const VALUES_QUERY = `
  SELECT NULL::text AS null_text, 'Zoë – Ünïcödé 東京 🙂'::text AS unicode,
         12345678901234567890.123456789::numeric AS big, 'NaN'::numeric AS nan,
         1.5::float8 / 3 AS float8, (-9223372036854775808)::int8 AS int8_min, 2147483647 AS int4, true AS yes,
         '2024-02-29 23:59:59.123456+00'::timestamptz AS timestamptz,
         '2024-03-10 02:30:00'::timestamp AS timestamp, '2024-03-10'::date AS date,
         '13:45:00'::time AS time, '1 day 25:00:00.5'::interval AS interval,
         '\\xdeadbeef00ff'::bytea AS bytea, ARRAY[1, NULL, 3]::int[] AS ints,
         ARRAY['a', NULL, 'with "quotes"', 'with,comma', '']::text[] AS texts,
         '{"b": [1, 2, null], "a": "ü"}'::jsonb AS jsonb,
         'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS uuid`;

async function types(client) {
  describeResult('simple', await client.query(VALUES_QUERY));
  describeResult('array mode', await client.query({ text: VALUES_QUERY, rowMode: 'array' }));
  const parameters = [
    null,
    'Zoë – Ünïcödé 東京 🙂',
    '12345678901234567890.123456789',
    new Date(Date.UTC(2024, 1, 29, 23, 59, 59, 123)),
    Buffer.from([0, 1, 0xfe, 0xff]),
    [1, null, 3],
    ['ä', null, 'with "quotes"', 'with,comma'],
    { a: [1, null, 'ü'] },
    true,
    '9223372036854775807',
    0.1,
  ];
  describeResult('parameters', await client.query({
    text: 'SELECT $1::text, $2::text, $3::numeric, $4::timestamptz, $5::bytea, $6::int[], $7::text[], $8::jsonb, $9::bool, $10::int8, $11::float8',
    values: parameters,
    rowMode: 'array',
  }));
}

async function preparedStatements(client) {
  const named = { name: 'conformance_find', text: 'SELECT $1::int * 2 AS doubled, $2::text AS label' };
  for (const values of [[21, 'ü'], [-1, null], [5, 'again']]) {
    describeResult('named', await client.query({ ...named, values }));
  }
  describeResult('server statements', await client.query(
    "SELECT name, statement, parameter_types::text FROM pg_prepared_statements WHERE name = 'conformance_find'",
  ));
  await expectError(() => client.query({ name: 'conformance_bad', text: 'SELECT * FROM no_such_table WHERE id = $1', values: [1] }));
  await expectError(() => client.query({ ...named, values: ['not a number', 'x'] }));
  describeResult('named after error', await client.query({ ...named, values: [7, 'still prepared'] }));
}

async function tables(client) {
  describeResult('create', await client.query(`
    CREATE TEMP TABLE patients (
      id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      name text NOT NULL,
      born date,
      balance numeric(12, 2),
      photo bytea,
      tags text[],
      seen_at timestamptz)`));
  const insert = 'INSERT INTO patients (name, born, balance, photo, tags, seen_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, name';
  describeResult('insert', await client.query(insert, ['Ada Lovelace', '1815-12-10', '100.50', Buffer.from([1, 2]), ['vip', 'ünï'], '2024-01-02 03:04:05+00']));
  describeResult('insert', await client.query(insert, ['Zoë 東京', null, '-3.25', null, [], null]));
  describeResult('insert', await client.query(insert, ['Nobody', '2000-01-01', null, Buffer.alloc(0), null, '2024-06-30 12:00:00-07']));
  describeResult('update', await client.query('UPDATE patients SET balance = balance * 2 WHERE balance IS NOT NULL RETURNING id, balance'));
  describeResult('delete', await client.query('DELETE FROM patients WHERE name = $1', ['Nobody']));
  describeResult('select', await client.query('SELECT * FROM patients ORDER BY id'));
}

async function multipleStatements(client) {
  const results = await client.query("SELECT 1 AS first; UPDATE patients SET name = name WHERE false; SELECT 'two' AS second");
  results.forEach((result, index) => describeResult(`multi ${index}`, result));
  await expectError(() => client.query("INSERT INTO patients (name) VALUES ('rolled back'); SELECT 1 / 0; SELECT 3"));
  describeResult('after failed multi', await client.query("SELECT count(*) FROM patients WHERE name = 'rolled back'"));
}

async function errorsAndNotices(client) {
  await expectError(() => client.query('SELECT * FROM no_such_table'));
  await expectError(() => client.query("INSERT INTO patients (id, name) VALUES (1, 'duplicate')"));
  await expectError(() => client.query('INSERT INTO patients (name) VALUES (NULL)'));
  await expectError(() => client.query('SELECT $1::integer', ['not a number']));
  await expectError(() => client.query('SELECT 1 +'));
  await client.query("DO $$ BEGIN RAISE NOTICE 'notice with detail %', 42 USING DETAIL = 'the detail', HINT = 'the hint'; END $$");
  await client.query("DO $$ BEGIN RAISE WARNING 'a warning'; END $$");
  await expectError(() => client.query("DO $$ BEGIN RAISE EXCEPTION 'custom failure' USING ERRCODE = 'P0042', DETAIL = 'custom detail'; END $$"));
  await client.query("SET statement_timeout = '200ms'");
  await expectError(() => client.query('SELECT pg_sleep(5)'));
  await client.query('RESET statement_timeout');
  describeResult('still usable', await client.query("SELECT 'yes' AS status"));
}

async function transactions(client) {
  await client.query('BEGIN');
  await client.query("INSERT INTO patients (name) VALUES ('in transaction')");
  await expectError(() => client.query('SELECT 1 / 0'));
  await expectError(() => client.query("SELECT 'ignored'"));
  describeResult('rollback', await client.query('ROLLBACK'));
  describeResult('after rollback', await client.query("SELECT count(*) FROM patients WHERE name = 'in transaction'"));

  await client.query('BEGIN');
  await client.query("INSERT INTO patients (name) VALUES ('kept')");
  await client.query('SAVEPOINT before_error');
  await client.query("INSERT INTO patients (name) VALUES ('undone')");
  await expectError(() => client.query('SELECT no_such_column FROM patients'));
  await client.query('ROLLBACK TO SAVEPOINT before_error');
  await client.query("INSERT INTO patients (name) VALUES ('after savepoint')");
  describeResult('commit', await client.query('COMMIT'));
  describeResult('names', await client.query("SELECT name FROM patients WHERE name IN ('kept', 'undone', 'after savepoint') ORDER BY id"));

  await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY');
  describeResult('isolation', await client.query('SHOW transaction_isolation'));
  await expectError(() => client.query('CREATE TABLE read_only_probe (id integer)'));
  describeResult('commit of failed transaction', await client.query('COMMIT'));
}

async function copy(client) {
  await client.query('CREATE TEMP TABLE visits (patient text, visited date, note text, amount numeric)');
  const textStream = client.query(copyStreams.from('COPY visits FROM STDIN'));
  await pipeline(Readable.from([
    'Ada Lovelace\t2024-01-01\tfirst visit\t10.5\n',
    'Zoë 東京\t2024-01-02\t\\N\t0\ntab\\there\t2024-01-03\tback\\\\slash\t-1\n',
  ]), textStream);
  out('copy in text:', textStream.rowCount);
  const csvStream = client.query(copyStreams.from('COPY visits FROM STDIN WITH (FORMAT csv, HEADER true)'));
  await pipeline(Readable.from(['patient,visited,note,amount\n"Quoted, comma",2024-02-01,"multi\nline",7\nEmpty,2024-02-02,,\n']), csvStream);
  out('copy in csv:', csvStream.rowCount);

  for (const format of ['text', 'csv', 'binary']) {
    const chunks = [];
    const source = client.query(copyStreams.to(
      `COPY (SELECT * FROM visits ORDER BY visited) TO STDOUT WITH (FORMAT ${format})`,
    ));
    await pipeline(source, new Writable({
      write(chunk, _encoding, done) {
        chunks.push(chunk);
        done();
      },
    }));
    const data = Buffer.concat(chunks);
    out(`copy out ${format}:`, source.rowCount, format === 'binary' ? data.toString('hex') : show(data.toString('utf8')));
  }

  await expectError(async () => {
    const failing = client.query(copyStreams.from('COPY visits FROM STDIN'));
    await pipeline(Readable.from(['bad row\tnot a date\tx\t1\n']), failing);
  });
  describeResult('after failed copy', await client.query('SELECT count(*) FROM visits'));
}

async function largeResults(client) {
  const query = `SELECT g, md5(g::text), repeat('x', g % 17), CASE WHEN g % 7 = 0 THEN NULL ELSE g * 1.5 END AS maybe
                 FROM generate_series(1, 5000) AS g`;
  const result = await client.query({ text: query, rowMode: 'array' });
  const digest = crypto.createHash('sha256').update(show(result.rows)).digest('hex');
  out('rows:', result.rows.length, 'first:', show(result.rows[0]), 'last:', show(result.rows[result.rows.length - 1]), 'sha256:', digest);

  // pg-cursor reads through a portal, 700 rows per Execute.
  const cursor = client.query(new Cursor(query, [], { rowMode: 'array' }));
  const hash = crypto.createHash('sha256');
  let count = 0;
  let batches = 0;
  for (;;) {
    const rows = await cursor.read(700);
    if (rows.length === 0) {
      break;
    }
    batches += 1;
    count += rows.length;
    hash.update(show(rows));
  }
  await cursor.close();
  out('cursor rows:', count, 'batches:', batches, 'sha256:', hash.digest('hex'));

  const big = await client.query("SELECT string_agg(md5(g::text), '') AS value FROM generate_series(1, 3000) AS g");
  const value = big.rows[0].value;
  out('one 96 kB value:', value.length, crypto.createHash('sha256').update(value).digest('hex'));
}

async function listenNotify() {
  const listener = await connect();
  const sender = await connect();
  try {
    const ownPid = (await listener.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const senderPid = (await sender.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const received = [];
    let allArrived;
    const arrived = new Promise((resolve) => { allArrived = resolve; });
    listener.on('notification', (message) => {
      const origin = message.processId === ownPid ? 'own backend'
        : message.processId === senderPid ? 'sender backend' : 'unknown backend';
      received.push([message.channel, message.payload, origin]);
      if (received.length === 4) {
        allArrived();
      }
    });
    await listener.query(`LISTEN ${CHANNEL}`);
    await listener.query(`NOTIFY ${CHANNEL}, 'from self'`);
    await sender.query(`NOTIFY ${CHANNEL}, 'from sender'`);
    await sender.query('SELECT pg_notify($1, $2)', [CHANNEL, 'Ünïcödé payload 🙂']);
    await sender.query(`BEGIN; NOTIFY ${CHANNEL}, 'delivered at commit'; NOTIFY ${CHANNEL}, 'delivered at commit'; COMMIT`);
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('notifications did not arrive within 10 s')), 10000);
    });
    try {
      await Promise.race([arrived, timeout]);
    } finally {
      clearTimeout(timer);
    }
    for (const notification of received) {
      out('notification:', show(notification));
    }
    await listener.query(`UNLISTEN ${CHANNEL}`);
    await sender.query(`NOTIFY ${CHANNEL}, 'not delivered'`);
    await listener.query('SELECT 1');
    await new Promise((resolve) => { setTimeout(resolve, 300); });
    out('after UNLISTEN:', received.length - 4);
  } finally {
    await listener.end();
    await sender.end();
  }
}

async function main() {
  const client = await connect();
  try {
    await step('session', () => session(client));
    await step('types and parameters', () => types(client));
    await step('named prepared statements', () => preparedStatements(client));
    await step('table and DML', () => tables(client));
    await step('multiple statements', () => multipleStatements(client));
    await step('errors and notices', () => errorsAndNotices(client));
    await step('transactions', () => transactions(client));
    await step('COPY', () => copy(client));
    await step('large results', () => largeResults(client));
  } finally {
    await client.end();
  }
  await step('LISTEN and NOTIFY', listenNotify);
  out('== end');
  process.stdout.write(`${lines.join('\n')}\n`);
  if (unexpected.length > 0) {
    process.stderr.write(`unexpected errors in steps: ${unexpected.join(', ')}\n`);
    process.exitCode = 1;
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
