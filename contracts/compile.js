#!/usr/bin/env node
// Compiles the Solidity sources under contracts/src with the solc pinned in
// testdata/package.json (the npm `solc` package and its bundled soljson.js;
// nothing is downloaded) and writes one artifact per contract to
// contracts/out/<ContractName>.json.
//
// Usage: node contracts/compile.js [--out DIR]
//
// Output is deterministic: sources are fed in sorted order under
// repository-independent names (src/...), and JSON is written with a fixed
// layout, so re-running on any machine yields byte-identical artifacts.
'use strict';

const fs = require('fs');
const path = require('path');

const CONTRACTS_DIR = __dirname;
const ROOT = path.resolve(CONTRACTS_DIR, '..');
const NODE_MODULES = path.join(ROOT, 'testdata', 'node_modules');
const SRC_DIR = path.join(CONTRACTS_DIR, 'src');

const SETTINGS = {
  evmVersion: 'cancun',
  optimizer: { enabled: true, runs: 200 },
};

function die(msg) {
  process.stderr.write(`compile.js: ${msg}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  let out = path.join(CONTRACTS_DIR, 'out');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && i + 1 < argv.length) {
      out = path.resolve(argv[++i]);
    } else {
      die(`unknown argument '${argv[i]}' (usage: compile.js [--out DIR])`);
    }
  }
  return { out };
}

function loadSolc() {
  const solcDir = path.join(NODE_MODULES, 'solc');
  if (!fs.existsSync(path.join(solcDir, 'soljson.js'))) {
    die(`${solcDir}/soljson.js not found; run scripts/install-deps.sh`);
  }
  const pinned = JSON.parse(fs.readFileSync(path.join(ROOT, 'testdata', 'package.json'), 'utf8'))
    .dependencies.solc;
  // Absolute require: the bundled soljson.js of exactly this package, never
  // solc's loadRemoteVersion (which downloads).
  const solc = require(solcDir);
  const installed = solc.version().split('+')[0];
  if (installed !== pinned) {
    die(`installed solc is ${solc.version()} but testdata/package.json pins ${pinned}; run scripts/install-deps.sh`);
  }
  return solc;
}

function listSources(dir) {
  const found = [];
  const walk = (d) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile() && entry.name.endsWith('.sol')) found.push(p);
    }
  };
  walk(dir);
  // Source unit names relative to contracts/, with '/' separators.
  return found
    .map((p) => path.relative(CONTRACTS_DIR, p).split(path.sep).join('/'))
    .sort();
}

// Resolves imports that are not among our own sources: package imports
// (`@openzeppelin/...`, `@uniswap/...`) from testdata/node_modules, anything
// else relative to contracts/. Paths may not escape those directories.
function findImport(unitName) {
  const base = unitName.startsWith('@') ? NODE_MODULES : CONTRACTS_DIR;
  const file = path.resolve(base, unitName);
  if (!file.startsWith(base + path.sep)) {
    return { error: `import '${unitName}' escapes ${base}` };
  }
  try {
    return { contents: fs.readFileSync(file, 'utf8') };
  } catch (e) {
    return { error: `import '${unitName}' not found at ${file}` };
  }
}

function main() {
  const { out } = parseArgs(process.argv.slice(2));
  const solc = loadSolc();

  const units = listSources(SRC_DIR);
  if (units.length === 0) die(`no .sol files under ${SRC_DIR}`);

  const sources = {};
  for (const u of units) {
    sources[u] = { content: fs.readFileSync(path.join(CONTRACTS_DIR, u), 'utf8') };
  }

  const input = {
    language: 'Solidity',
    sources,
    settings: {
      ...SETTINGS,
      outputSelection: {
        '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] },
      },
    },
  };

  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));

  let failed = false;
  for (const err of output.errors || []) {
    process.stderr.write(err.formattedMessage || `${err.severity}: ${err.message}\n`);
    if (err.severity === 'error') failed = true;
  }
  if (failed || !output.contracts) die('compilation failed');

  const artifacts = new Map();
  for (const unit of units) {
    const contracts = output.contracts[unit] || {};
    for (const name of Object.keys(contracts).sort()) {
      if (artifacts.has(name)) {
        die(`contract name '${name}' defined in both ${artifacts.get(name).sourceName} and ${unit}`);
      }
      const c = contracts[name];
      artifacts.set(name, {
        contractName: name,
        sourceName: unit,
        abi: c.abi,
        bytecode: `0x${c.evm.bytecode.object}`,
        deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
        compiler: { version: solc.version(), settings: SETTINGS },
      });
    }
  }

  fs.mkdirSync(out, { recursive: true });
  // Drop artifacts of contracts that no longer exist.
  for (const f of fs.readdirSync(out)) {
    if (f.endsWith('.json') && !artifacts.has(f.slice(0, -'.json'.length))) {
      fs.unlinkSync(path.join(out, f));
    }
  }
  for (const [name, artifact] of artifacts) {
    fs.writeFileSync(path.join(out, `${name}.json`), `${JSON.stringify(artifact, null, 2)}\n`);
  }
  process.stdout.write(
    `compile.js: solc ${solc.version()}: wrote ${artifacts.size} artifact(s) to ${out}: ${[...artifacts.keys()].join(', ')}\n`,
  );
}

main();
