// ethers v6 (pinned in testdata/package.json) against a chain's JSON-RPC.
//
//   node testdata/clients/ethers.mjs <http-url> <ws-url>
//
// Deploys the test token, reads, writes, sends the three transaction types, decodes a custom
// error revert, and listens for blocks, Transfer events and pending transactions on a
// WebSocketProvider. Run by rollup-node/tests/clients.rs against the node or anvil. Exits 1
// with the failed check on stderr; on success the last line of stdout is a JSON summary.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  ContractFactory,
  HDNodeWallet,
  JsonRpcProvider,
  Mnemonic,
  WebSocketProvider,
  isCallException,
  parseUnits,
} from 'ethers';

const MNEMONIC = 'test test test test test test test test test test test junk';
const TIMEOUT_MS = 20_000;
const { abi, bytecode } = JSON.parse(
  readFileSync(new URL('../../contracts/out/TestToken.json', import.meta.url), 'utf8'),
);
const [httpUrl, wsUrl] = process.argv.slice(2);

function devWallet(i, provider) {
  return HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(MNEMONIC), `m/44'/60'/0'/0/${i}`).connect(provider);
}

function within(what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function main() {
  if (!httpUrl || !wsUrl) throw new Error('usage: ethers.mjs <http-url> <ws-url>');
  // ethers answers a request identical to one made in the last 250 ms from its own cache
  // (`cacheTimeout`), so with 200 ms blocks a `pending` nonce asked for right after a
  // transaction was mined can be the one that transaction used: turned off, as a dapp on a
  // fast chain does.
  const provider = new JsonRpcProvider(httpUrl, undefined, {
    polling: true,
    pollingInterval: 100,
    cacheTimeout: -1,
  });
  provider.pollingInterval = 100;
  const network = await provider.getNetwork();
  const deployer = devWallet(0, provider);
  const other = devWallet(6, provider);

  // Deploy, read, write.
  const factory = new ContractFactory(abi, bytecode, deployer);
  const token = await factory.deploy('Ethers Token', 'ETHR', 10n ** 24n);
  await within('deployment mined', token.waitForDeployment());
  const address = await token.getAddress();
  assert.equal(await token.symbol(), 'ETHR');
  assert.equal(await token.balanceOf(deployer.address), 10n ** 24n);

  // WebSocket listeners, in place before the transfer.
  const ws = new WebSocketProvider(wsUrl);
  const wsToken = token.connect(ws);
  const seen = { blocks: [], transfers: [], pending: [] };
  await ws.on('block', (n) => seen.blocks.push(n));
  await wsToken.on('Transfer', (from, to, value, event) => seen.transfers.push({ to, value, event }));
  await ws.on('pending', (hash) => seen.pending.push(hash));

  const tx = await token.transfer(other.address, 777n);
  const receipt = await within('transfer mined', tx.wait());
  assert.equal(receipt.status, 1);
  assert.equal(await token.balanceOf(other.address), 777n);
  const [log] = receipt.logs.map((l) => token.interface.parseLog(l)).filter((l) => l?.name === 'Transfer');
  assert.equal(log.args.value, 777n);

  const until = (what, check) =>
    within(`over WebSocket: ${what}`, new Promise((resolve) => {
      const timer = setInterval(() => {
        if (check()) {
          clearInterval(timer);
          resolve();
        }
      }, 20);
    }));
  await until('a block event for the transfer block', () => seen.blocks.some((n) => n >= receipt.blockNumber));
  await until('the Transfer event', () => seen.transfers.some((t) => t.event.log.transactionHash === tx.hash));
  await until('the pending transaction', () => seen.pending.includes(tx.hash));
  await ws.destroy();

  // The three transaction types.
  const gasPrice = parseUnits('5', 'gwei');
  for (const [type, fields] of [
    [0, { gasPrice }],
    [1, { gasPrice, accessList: [{ address, storageKeys: ['0x' + '00'.repeat(32)] }] }],
    [2, { maxFeePerGas: gasPrice, maxPriorityFeePerGas: parseUnits('1', 'gwei') }],
  ]) {
    const sent = await deployer.sendTransaction({ type, to: other.address, value: 1n, ...fields });
    const r = await within(`type ${type} mined`, sent.wait());
    assert.equal(r.status, 1, `type ${type} succeeded`);
    assert.equal(r.type, type, `type ${type} receipt`);
    assert.equal((await provider.getTransaction(sent.hash)).type, type, `type ${type} transaction`);
  }

  // A custom-error revert, decoded from eth_call and eth_estimateGas.
  const poor = token.connect(devWallet(7, provider));
  for (const [label, attempt] of [
    ['eth_call', () => poor.transfer.staticCall(deployer.address, 1n)],
    ['eth_estimateGas', () => poor.transfer.estimateGas(deployer.address, 1n)],
  ]) {
    const err = await attempt().then(() => assert.fail(`${label} did not revert`), (e) => e);
    assert.ok(isCallException(err), `${label}: a CALL_EXCEPTION (${err.shortMessage})`);
    // ethers decodes a contract's errors on static calls only; the revert data is on both.
    const revert = token.interface.parseError(err.data);
    assert.equal(revert?.name, 'ERC20InsufficientBalance', `${label}: revert data ${err.data}`);
    assert.equal(revert.args[2], 1n, `${label}: needed amount`);
    if (label === 'eth_call') assert.equal(err.revert?.name, 'ERC20InsufficientBalance');
  }

  provider.destroy();
  console.log(JSON.stringify({
    ok: true, chainId: Number(network.chainId), token: address, transfer: tx.hash,
    wsBlocks: seen.blocks.length, wsTransfers: seen.transfers.length, wsPending: seen.pending.length,
  }));
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e?.stack ?? e);
    process.exit(1);
  },
);
