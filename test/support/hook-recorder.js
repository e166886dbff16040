// A completion hook for the tests: records each run of it (the task from HARNESS_TASK, a few
// variables, its pid) in <out>/<task id>.jsonl, a line when it starts and one when it ends.
// A task whose payload has `hold: FILE` makes it wait for FILE before ending.
const fs = require('node:fs');
const path = require('node:path');

const out = process.argv[2];
const task = JSON.parse(process.env.HARNESS_TASK);
const file = path.join(out, `${task.id}.jsonl`);
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('HARNESS_') || k.endsWith('_SECRET')));
fs.appendFileSync(file, JSON.stringify({ phase: 'start', pid: process.pid, task, env }) + '\n');
const hold = task.payload && task.payload.hold;
const end = () => fs.appendFileSync(file, JSON.stringify({ phase: 'end' }) + '\n');
if (hold) {
  const timer = setInterval(() => {
    if (fs.existsSync(hold)) {
      clearInterval(timer);
      end();
    }
  }, 20);
} else end();
