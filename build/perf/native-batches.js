// node native-batches.js — writes COUNT native SDK uploads (Android, as tests/Integration.Tests/Fixtures/native-sdks
// sends them) for build/perf/native.lua: each record is a line "<x-mp-signature> <byte length>" then the gzipped body.
// Every batch is new (batch id, message ids), for a random device among USERS, with MSGS messages cycled from the
// fixtures' screen views, custom events and purchase, and the fixtures' header (ai, di with the GAID, ua, con).
// Env: COUNT (20000), USERS (100000), MSGS (20), KEY/SECRET (demo-android-key/-secret), DATE (the signed Date,
//      opaque to the server), FIXTURES (the fixtures folder), OUT (the file to write).
// Signing and gzip happen here, before the run, so the load generator spends no CPU on them during the measurement.
const fs = require("fs"), path = require("path"), zlib = require("zlib"), crypto = require("crypto");
const env = (name, fallback) => process.env[name] || fallback;
const count = +env("COUNT", "20000"), users = +env("USERS", "100000"), msgs = +env("MSGS", "20");
const key = env("KEY", "demo-android-key"), secret = env("SECRET", "demo-android-secret");
const date = env("DATE", "Wed, 05 Jun 2024 16:23:25 CEST");
const fixtures = env("FIXTURES", path.join(__dirname, "../../tests/Integration.Tests/Fixtures/native-sdks"));
const body = f => JSON.parse(fs.readFileSync(path.join(fixtures, f))).exchanges[0].body;
const header = body("android-user-attributes.json"); // its ua holds a list, a number-like string and a tag
const pool = [...body("android-custom-events-and-screen-views.json").msgs, ...body("android-commerce-purchase.json").msgs];
const out = fs.openSync(env("OUT", "native-batches.bin"), "w");
const device = u => `00000000-0000-4000-8000-${u.toString(16).padStart(12, "0")}`;
const now = Date.now();
let bytes = 0;
for (let i = 0; i < count; i++) {
  const u = 1 + Math.floor(Math.random() * users);
  const sid = crypto.randomUUID().toUpperCase(), ct = now + i;
  const batch = { ...header, id: crypto.randomUUID(), ct, mpid: String(1_000_000_000 + u), das: device(u) };
  batch.ck = { uid: { c: `g=${batch.das}`, e: "2034-06-02T14:13:31.4870000Z" } };
  batch.msgs = Array.from({ length: msgs }, (_, m) => ({ ...pool[m % pool.length], id: crypto.randomUUID(), sid, ct: ct - (msgs - m) * 1000 }));
  const text = JSON.stringify(batch).replace(/\//g, "\\/"); // org.json escapes "/"
  const signature = crypto.createHmac("sha256", secret).update(`POST\n${date}\n/v2/${key}/events${text}`).digest("hex");
  const gz = zlib.gzipSync(text);
  bytes += gz.length;
  fs.writeSync(out, `${signature} ${gz.length}\n`);
  fs.writeSync(out, gz);
}
fs.closeSync(out);
console.error(`${count} native batches of ${msgs} messages, ${(bytes / count).toFixed(0)} bytes gzipped each on average`);
