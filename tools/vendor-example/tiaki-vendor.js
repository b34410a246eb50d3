#!/usr/bin/env node
// A vendor's client of tiaki in Node.js, written from the .proto files alone
// (docs/vendor-quickstart.md): it calls purpose_router's PlanService.GetPlan and
// LedgerService.GetChainHead with a Bearer token, checks the ledger's published
// test vectors (docs/ledger-test-vectors.json) by docs/ledger.md's rules (RFC 8785
// canonical bytes, SHA-256, the chain's links, the Merkle root and the signed
// head), then the provider's own chain as ListFlows lists it, by the same rules.
//
//   TIAKI_ROUTER=127.0.0.1:50052 TIAKI_TOKEN_FILE=var/tokens/provider-ccss \
//     node tools/vendor-example/tiaki-vendor.js best-foot-forward [VECTORS.json]
//
// Prints one line per fact; exits 1 when a call fails or a vector does not verify.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const ROOT = path.resolve(__dirname, '..', '..');

// ---------------------------------------------------------------- calling tiaki

function services() {
  const definition = protoLoader.loadSync(
    ['tiaki/router/v1/plan.proto', 'tiaki/router/v1/ledger.proto'],
    { includeDirs: [path.join(ROOT, 'protos')], keepCase: true, longs: String, enums: String,
      defaults: true });
  return grpc.loadPackageDefinition(definition).tiaki.router.v1;
}

function call(client, method, request, token) {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve, reject) => {
    client[method](request, metadata, { deadline: Date.now() + 10000 }, (err, response) =>
      (err ? reject(err) : resolve(response)));
  });
}

// ---------------------------------------------------------------- the ledger's rules

// RFC 8785: object keys in UTF-16 code-unit order (what Array.prototype.sort does),
// no whitespace, strings and numbers as ECMAScript's JSON.stringify writes them.
function canonicalize(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalize).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalize(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const bytesOf = (value) => Buffer.from(canonicalize(value), 'utf8');
const sha256 = (...parts) => crypto.createHash('sha256').update(Buffer.concat(parts)).digest();

// RFC 9162 2.1.1: leaves already hashed; split at the largest power of two below n.
function merkleRoot(leaves) {
  if (leaves.length === 0) return sha256(Buffer.alloc(0));
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha256(Buffer.from([1]), merkleRoot(leaves.slice(0, k)), merkleRoot(leaves.slice(k)));
}

function ed25519Verify(publicKeyHex, payload, signatureHex) {
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'),
    Buffer.from(publicKeyHex, 'hex')]);
  const key = crypto.createPublicKey({ key: spki, format: 'der', type: 'spki' });
  return crypto.verify(null, payload, key, Buffer.from(signatureHex, 'hex'));
}

function verifyVectors(v) {
  const problems = [];
  const expect = (ok, what) => { if (!ok) problems.push(what); };
  v.canonical.forEach((c, i) => {
    expect(bytesOf(c.value).toString('hex') === c.canonical_hex, `canonical value ${i}: bytes differ`);
    expect(sha256(bytesOf(c.value)).toString('hex') === c.sha256, `canonical value ${i}: hash differs`);
  });
  // No float is hashed (decimals are text): JCS writes numbers as JavaScript does, which
  // is not what Python's json writes. These show a JCS implementation does that.
  v.floats_never_hashed.forEach((f, i) => {
    expect(canonicalize(Number(f.python_json)) === f.jcs, `float ${i}: JCS would write it otherwise`);
  });
  expect(sha256(bytesOf(v.content.records)).toString('hex') === v.content.content_hash,
    'content_hash of the records differs');
  let previous = v.genesis;
  for (const { entry, canonical_hex: hex } of v.chain) {
    const hashed = hashedFields(entry, v.hashed_fields, v.optional_hashed_fields);
    expect(bytesOf(hashed).toString('hex') === hex, `entry ${entry.sequence}: canonical bytes differ`);
    expect(entry.previous_hash === previous, `entry ${entry.sequence}: does not link to the entry before it`);
    expect(sha256(bytesOf(hashed)).toString('hex') === entry.entry_hash,
      `entry ${entry.sequence}: its contents do not match its hash`);
    previous = entry.entry_hash;
  }
  const leaves = v.chain.map(({ entry }) => sha256(Buffer.from([0]), Buffer.from(entry.entry_hash, 'hex')));
  const root = merkleRoot(leaves).toString('hex');
  expect(root === v.merkle.root_hash, 'the Merkle root differs');
  const signed = v.signed_head;
  expect(signed.head.root_hash === root && signed.head.tree_size === leaves.length,
    'the signed head is not of this chain');
  expect(bytesOf(signed.head).toString('hex') === signed.payload_hex, 'the signed head\'s bytes differ');
  expect(ed25519Verify(signed.public_key, bytesOf(signed.head), signed.signature),
    'the signed head\'s signature does not verify');
  return { problems, checked: v.canonical.length + v.floats_never_hashed.length + v.chain.length + 3 };
}

// What of an entry is hashed: every field of hashed_fields, and each optional one that is set.
function hashedFields(entry, fields, optional) {
  const hashed = {};
  for (const k of fields) hashed[k] = entry[k];
  for (const k of optional) if (entry[k]) hashed[k] = entry[k];
  return hashed;
}

// A listed entry (LedgerEntry) as it is hashed: kind as its lower-case name, integers as
// numbers, recorded_at as ISO 8601 UTC with microseconds and +00:00 (docs/ledger.md).
function hashedForm(e) {
  const seconds = Number(e.recorded_at.seconds);
  const micros = String(Math.floor(e.recorded_at.nanos / 1000)).padStart(6, '0');
  return {
    ...e,
    sequence: Number(e.sequence),
    record_count: Number(e.record_count),
    kind: e.kind.replace('ENTRY_KIND_', '').toLowerCase(),
    recorded_at: `${new Date(seconds * 1000).toISOString().slice(0, 19)}.${micros}+00:00`,
  };
}

// The provider's whole chain, listed a page at a time, checked link by link.
async function verifyLiveChain(ledger, token, fields, optional) {
  let previous = '0'.repeat(64);
  let count = 0;
  let pageToken = '';
  do {
    const page = await call(ledger, 'ListFlows', { page_size: 1000, page_token: pageToken }, token);
    for (const listed of page.entries) {
      const entry = hashedForm(listed);
      count += 1;
      const hashed = hashedFields(entry, fields, optional);
      if (entry.sequence !== count || entry.previous_hash !== previous
          || sha256(bytesOf(hashed)).toString('hex') !== entry.entry_hash) {
        return `entry ${count} does not verify`;
      }
      previous = entry.entry_hash;
    }
    pageToken = page.next_page_token;
  } while (pageToken);
  return `ledger verified: ${count} entries, head ${count}:${previous}`;
}

// ---------------------------------------------------------------- main

async function main() {
  const [programme, vectorsFile] = process.argv.slice(2);
  const vectorsPath = vectorsFile || path.join(ROOT, 'docs', 'ledger-test-vectors.json');
  const vectors = JSON.parse(fs.readFileSync(vectorsPath, 'utf8'));
  const { problems, checked } = verifyVectors(vectors);
  for (const p of problems) console.log(`vector FAILED: ${p}`);
  if (problems.length === 0) console.log(`vectors verified: ${checked} checks`);

  const router = process.env.TIAKI_ROUTER;
  if (router) {
    const token = fs.readFileSync(process.env.TIAKI_TOKEN_FILE, 'utf8').trim();
    const v1 = services();
    const credentials = grpc.credentials.createInsecure();
    const plans = new v1.PlanService(router, credentials);
    const ledger = new v1.LedgerService(router, credentials);
    if (programme) {
      const { plan } = await call(plans, 'GetPlan', { programme_id: programme, version: 0 }, token);
      console.log(`plan ${plan.programme_id} version ${plan.version}: ${plan.items.length} items, `
        + `${plan.purposes.length} purposes`);
    }
    const head = await call(ledger, 'GetChainHead', {}, token);
    console.log(`chain head ${head.sequence}:${head.entry_hash}`);
    const verdict = await verifyLiveChain(ledger, token, vectors.hashed_fields,
      vectors.optional_hashed_fields);
    console.log(verdict);
    if (!verdict.startsWith('ledger verified')) problems.push(verdict);
    plans.close();
    ledger.close();
  }
  return problems.length === 0 ? 0 : 1;
}

main().then((code) => { process.exitCode = code; }, (err) => {
  console.log(`call FAILED: ${err.code !== undefined ? `gRPC status ${err.code}: ` : ''}${err.details || err.message}`);
  process.exitCode = 1;
});
