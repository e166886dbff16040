// The .vsix as `npm run package` makes it (its vsce command, run on the built dist/): what the
// Extensions page shows from it must be whole (every relative link of the README and of the pages
// it links resolves inside the package, and there is an icon), and the CLI inside it must run
// outside VS Code, as the README tells people to use it.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yauzl from 'yauzl';
import { childEnv, cleanupAll, ensureCliBuilt, ROOT, runCli, ServeProcess, tempDir, within } from '../support/harness-process';
import { killMcpWorkers, startMcpWorker } from '../support/mcp';

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  publisher: string;
  version: string;
  icon?: string;
  scripts: Record<string, string>;
};

/** Every file entry of a zip, by name. */
function readZip(file: string): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err) return reject(err);
      const entries = new Map<string, Buffer>();
      zip.on('error', reject);
      zip.on('end', () => resolve(entries));
      zip.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName.endsWith('/')) return zip.readEntry();
        zip.openReadStream(entry, (e, stream) => {
          if (e) return reject(e);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            entries.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}

/** The relative link targets of a markdown page (links and images, outside code), without #fragments. */
function relativeLinks(markdown: string): string[] {
  const prose = markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
  const targets = [
    ...[...prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!),
    ...[...prose.matchAll(/<img\s[^>]*src="([^"]+)"/gi)].map((m) => m[1]!),
  ];
  return targets.filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t) && !t.startsWith('#')).map((t) => decodeURI(t.split('#')[0]!));
}

describe('the .vsix package (npm run package)', function () {
  this.timeout(180_000);
  let entries: Map<string, Buffer>;

  before(async () => {
    ensureCliBuilt();
    const vsce = pkg.scripts.package!.split('&&').map((s) => s.trim()).find((s) => s.startsWith('vsce '));
    assert.ok(vsce, `no vsce command in the package script: ${pkg.scripts.package}`);
    const out = path.join(tempDir('hpkg-'), 'agent-harness.vsix');
    execFileSync(path.join(ROOT, 'node_modules', '.bin', 'vsce'), [...vsce.split(/\s+/).slice(1), '--out', out], { cwd: ROOT, stdio: 'pipe' });
    entries = await readZip(out);
  });
  after(cleanupAll);

  it('every relative link of its README, and of the pages that links to, resolves inside the package', () => {
    const readme = [...entries.keys()].find((n) => /^extension\/readme\.md$/i.test(n));
    assert.ok(readme, `no README in the package: ${[...entries.keys()].join(', ')}`);
    const seen = new Set<string>();
    const broken: string[] = [];
    const follow = (page: string) => {
      if (seen.has(page)) return;
      seen.add(page);
      for (const link of relativeLinks(entries.get(page)!.toString('utf8'))) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(page), link));
        if (!entries.has(target)) broken.push(`${page} -> ${link}`);
        else if (target.endsWith('.md')) follow(target);
      }
    };
    follow(readme);
    assert.deepEqual(broken, [], `links to files the package does not hold (add them to .vscodeignore, or link elsewhere)`);
    assert.ok(seen.size > 1, 'the README links to pages of its own');
  });

  it('has a marketplace icon: the manifest names a PNG of at least 128×128 that the package holds', () => {
    assert.ok(pkg.icon, 'package.json has no "icon"');
    const png = entries.get(`extension/${pkg.icon}`);
    assert.ok(png, `${pkg.icon} is not in the package`);
    assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
    const [width, height] = [png.readUInt32BE(16), png.readUInt32BE(20)]; // the IHDR chunk
    assert.ok(width >= 128 && height >= 128, `the icon is ${width}×${height}`);
    assert.match(entries.get('extension.vsixmanifest')!.toString('utf8'), new RegExp(`Type="Microsoft.VisualStudio.Services.Icons.Default" Path="extension/${pkg.icon}"`));
  });

  it('holds every file the Task Graph panel loads: its script, its style and the layout worker', () => {
    // src/host/panel.ts serves these from the extension's folder; a missing one is a blank graph.
    for (const file of ['dist/webview.js', 'dist/elk-worker.js', 'media/panel.css', 'media/harness.svg']) {
      assert.ok(entries.has(`extension/${file}`), `${file} is not in the package`);
    }
  });

  it('holds the NATS client that cluster mode loads beside the bundles (and only cluster mode)', () => {
    // src/cluster/nats-loader.ts requires dist/nats.js on first use: without it a window set up for
    // a cluster, or `harness --nats`, fails to start.
    assert.ok(entries.has('extension/dist/nats.js'), 'dist/nats.js is not in the package');
    for (const bundle of ['dist/extension.js', 'dist/cli.js']) {
      // The JetStream API's subject prefix: a string, so it survives minification.
      assert.doesNotMatch(entries.get(`extension/${bundle}`)!.toString('utf8'), /\$JS\.API/, `${bundle} carries the NATS client itself`);
    }
  });

  it('its harness CLI runs outside VS Code from the folder the extension is installed in', async () => {
    // VS Code unpacks the package's extension/ folder to <extensions>/<publisher>.<name>-<version>.
    const installed = path.join(tempDir('hext-'), `${pkg.publisher}.${pkg.name}-${pkg.version}`);
    for (const [name, data] of entries) {
      if (!name.startsWith('extension/')) continue;
      const file = path.join(installed, name.slice('extension/'.length));
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, data);
    }
    const cli = path.join(installed, 'dist', 'cli.js');
    const dir = tempDir();
    const socket = path.join(dir, 'h.sock');
    const serve = ServeProcess.spawn(['--worktree', dir, '--socket', socket], childEnv(), cli);
    await within(serve.ready, 30_000, `harness serve from the package\n${serve.stderr}`);
    const added = await runCli(['task', 'add', '--id', 'from-the-vsix'], childEnv({ HARNESS_SOCKET: socket }), dir, cli);
    assert.equal(added.code, 0, added.stdout + added.stderr);
    assert.equal(added.json.data.task.id, 'from-the-vsix');
    // `harness mcp` loads its own bundle beside the CLI's: the package must hold it.
    const mcp = await startMcpWorker({ socket, workerId: 'vsix-agent', cwd: dir, cli });
    try {
      assert.equal((await mcp.ok('task_claim')).task.id, 'from-the-vsix');
    } finally {
      await killMcpWorkers();
    }
  });
});
