// Preloaded (`node --require`) into a `harness` process by test/integration/cli-lifecycle.test.ts:
// the process sends itself SIGTERM at the first require its CLI bundle makes, that is while the
// bundle is still being evaluated, long before the command's own code runs. A signal sent from
// outside "early" would race the process's start-up; this one lands at the same point every time.
'use strict';
const Module = require('node:module');
const original = Module.prototype.require;
Module.prototype.require = function (...args) {
  if (this.id === '.') {
    Module.prototype.require = original;
    process.kill(process.pid, 'SIGTERM');
  }
  return original.apply(this, args);
};
