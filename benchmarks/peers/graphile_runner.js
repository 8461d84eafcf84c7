// Graphile Worker's side of the peer benchmark (see benchmarks/peers/__init__.py).
//
//   node graphile_runner.js migrate '<json options>'
//   node graphile_runner.js add     '<json options>'   # options.n jobs, addJobs in batches
//   node graphile_runner.js work    '<json options>'   # runs `noop` until SIGTERM
//   node graphile_runner.js trigger '<json options>'   # options.k sequential addJob calls
//
// Options: connectionString, schema, concurrency, localQueueSize, completeJobBatchDelay,
// latency (work: print "lat <ms>" per job, trigger call -> handler start), n, k, gapMs.
// Resolved from the peer's own install dir (NODE_PATH), never downloaded here.
"use strict";
const { run, makeWorkerUtils } = require("graphile-worker");

// Wall clock in ms with sub-ms resolution, comparable across processes on one machine.
const wallMs = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function utils(opts) {
  return makeWorkerUtils({ connectionString: opts.connectionString, schema: opts.schema });
}

async function migrate(opts) {
  const u = await utils(opts);
  try {
    await u.migrate();
  } finally {
    await u.release();
  }
}

async function add(opts) {
  const u = await utils(opts);
  try {
    for (let start = 0; start < opts.n; start += 10000) {
      const size = Math.min(10000, opts.n - start);
      const specs = Array.from({ length: size }, (_, i) => ({
        identifier: "noop",
        payload: { n: start + i },
      }));
      await u.addJobs(specs);
    }
  } finally {
    await u.release();
  }
}

async function trigger(opts) {
  const u = await utils(opts);
  try {
    for (let i = 0; i < opts.k; i++) {
      await u.addJob("noop", { t: wallMs() });
      await sleep(opts.gapMs);
    }
  } finally {
    await u.release();
  }
}

async function work(opts) {
  const noop = opts.latency
    ? async (payload) => {
        process.stdout.write(`lat ${wallMs() - payload.t}\n`);
      }
    : async () => {};
  const runner = await run({
    connectionString: opts.connectionString,
    schema: opts.schema,
    concurrency: opts.concurrency,
    noHandleSignals: true,
    taskList: { noop },
    preset: {
      worker: {
        localQueue: { size: opts.localQueueSize },
        completeJobBatchDelay: opts.completeJobBatchDelay,
        failJobBatchDelay: opts.completeJobBatchDelay,
      },
    },
  });
  process.stdout.write("ready\n");
  const stop = () => runner.stop().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  await runner.promise;
}

const commands = { migrate, add, trigger, work };
const [command, raw] = process.argv.slice(2);
if (!commands[command]) {
  console.error(`graphile_runner.js: unknown command ${command}; use ${Object.keys(commands)}`);
  process.exit(2);
}
commands[command](JSON.parse(raw || "{}")).catch((err) => {
  console.error(err);
  process.exit(1);
});
