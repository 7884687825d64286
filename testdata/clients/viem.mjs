// viem (pinned in testdata/package.json) against a chain's JSON-RPC, as a dapp uses it.
//
//   node testdata/clients/viem.mjs http   <http-url>           # the HTTP flow
//   node testdata/clients/viem.mjs ws     <http-url> <ws-url>  # WebSocket watches
//
// Run by rollup-node/tests/clients.rs against the node or anvil (ROLLUP_TEST_L2=anvil). Every
// check throws on failure (exit status 1, the failed check on stderr); on success the last line
// of stdout is a JSON summary. Dev accounts: the standard test mnemonic, as anvil funds them.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  parseEther,
  parseEventLogs,
  parseGwei,
  webSocket,
} from 'viem';
import { mnemonicToAccount } from 'viem/accounts';

const MNEMONIC = 'test test test test test test test test test test test junk';
const TIMEOUT_MS = 20_000;
const artifact = JSON.parse(
  readFileSync(new URL('../../contracts/out/TestToken.json', import.meta.url), 'utf8'),
);
const { abi, bytecode } = artifact;

const [mode, httpUrl, wsUrl] = process.argv.slice(2);
const step = (msg) => console.log(`viem: ${msg}`);

/// A viem chain for the endpoint (its id read over RPC, so the script works on any chain).
async function chainAt(url) {
  const probe = createPublicClient({ transport: http(url) });
  const id = await probe.getChainId();
  return defineChain({
    id,
    name: `chain ${id}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [url] } },
  });
}

function clients(chain) {
  const transport = http(httpUrl);
  const opts = { chain, transport, pollingInterval: 100 };
  return {
    client: createPublicClient(opts),
    deployer: createWalletClient({ ...opts, account: mnemonicToAccount(MNEMONIC, { addressIndex: 0 }) }),
    // An account with no tokens, for the reverting calls.
    other: createWalletClient({ ...opts, account: mnemonicToAccount(MNEMONIC, { addressIndex: 5 }) }),
  };
}

async function deployToken(client, deployer, supply) {
  const hash = await deployer.deployContract({ abi, bytecode, args: ['Viem Token', 'VIEM', supply] });
  const receipt = await client.waitForTransactionReceipt({ hash, timeout: TIMEOUT_MS });
  assert.equal(receipt.status, 'success', 'deployment succeeded');
  assert.ok(receipt.contractAddress, 'deployment receipt has contractAddress');
  return receipt;
}

/// Deploy, read, write, logs, filters, the three transaction types, revert data.
async function httpFlow() {
  const chain = await chainAt(httpUrl);
  const { client, deployer, other } = clients(chain);
  const me = deployer.account.address;
  const to = other.account.address;
  const summary = { chainId: chain.id };

  // Deploy and read.
  const supply = 1_000_000n * 10n ** 18n;
  const deployed = await deployToken(client, deployer, supply);
  const token = deployed.contractAddress;
  step(`deployed TestToken at ${token} in block ${deployed.blockNumber}`);
  assert.ok((await client.getCode({ address: token })).length > 2, 'code at the token');
  assert.equal(await client.readContract({ address: token, abi, functionName: 'name' }), 'Viem Token');
  assert.equal(await client.readContract({ address: token, abi, functionName: 'symbol' }), 'VIEM');
  assert.equal(await client.readContract({ address: token, abi, functionName: 'totalSupply' }), supply);
  assert.equal(await client.readContract({ address: token, abi, functionName: 'balanceOf', args: [me] }), supply);

  // Filters installed before the write see it.
  const eventFilter = await client.createContractEventFilter({ address: token, abi, eventName: 'Transfer' });
  const blockFilter = await client.createBlockFilter();
  const pendingFilter = await client.createPendingTransactionFilter();

  // Write: simulate, send, decode the receipt's logs.
  const amount = 1234n;
  const { request } = await client.simulateContract({
    account: deployer.account, address: token, abi, functionName: 'transfer', args: [to, amount],
  });
  const transferHash = await deployer.writeContract(request);
  const receipt = await client.waitForTransactionReceipt({ hash: transferHash, timeout: TIMEOUT_MS });
  assert.equal(receipt.status, 'success');
  const [transfer] = parseEventLogs({ abi, logs: receipt.logs, eventName: 'Transfer' });
  assert.deepEqual(transfer.args, { from: me, to, value: amount });
  assert.equal(await client.readContract({ address: token, abi, functionName: 'balanceOf', args: [to] }), amount);
  step(`transfer mined in block ${receipt.blockNumber}`);

  // Logs by event and indexed argument, over a block range.
  const events = await client.getContractEvents({
    address: token, abi, eventName: 'Transfer', args: { to }, fromBlock: deployed.blockNumber, toBlock: 'latest',
  });
  assert.equal(events.length, 1, 'one Transfer to the receiver');
  assert.equal(events[0].transactionHash, transferHash);
  assert.equal(events[0].args.value, amount);
  const all = await client.getLogs({ address: token, fromBlock: deployed.blockNumber, toBlock: receipt.blockNumber });
  assert.equal(all.length, 2, 'the mint and the transfer');

  // Filter changes.
  const changes = await client.getFilterChanges({ filter: eventFilter });
  assert.ok(changes.some((l) => l.transactionHash === transferHash), 'event filter saw the transfer');
  const filterLogs = await client.getFilterLogs({ filter: eventFilter });
  assert.ok(filterLogs.some((l) => l.transactionHash === transferHash), 'eth_getFilterLogs has the transfer');
  const blocks = await client.getFilterChanges({ filter: blockFilter });
  assert.ok(blocks.includes(receipt.blockHash), 'block filter saw the transfer block');
  const pending = await client.getFilterChanges({ filter: pendingFilter });
  assert.ok(pending.includes(transferHash), 'pending-transaction filter saw the transfer');
  for (const filter of [eventFilter, blockFilter, pendingFilter]) {
    assert.equal(await client.uninstallFilter({ filter }), true, 'filter uninstalled');
  }

  // The three transaction types, each read back with its fields.
  const gasPrice = parseGwei('5');
  const sent = {
    legacy: await deployer.sendTransaction({ type: 'legacy', to, value: 1n, gasPrice }),
    eip2930: await deployer.sendTransaction({
      type: 'eip2930', to: token, gasPrice,
      data: '0x70a08231' + me.slice(2).toLowerCase().padStart(64, '0'),
      accessList: [{ address: token, storageKeys: ['0x' + '00'.repeat(32)] }],
    }),
    eip1559: await deployer.sendTransaction({
      type: 'eip1559', to, value: 3n, maxFeePerGas: parseGwei('5'), maxPriorityFeePerGas: parseGwei('1'),
    }),
  };
  for (const [type, hash] of Object.entries(sent)) {
    const r = await client.waitForTransactionReceipt({ hash, timeout: TIMEOUT_MS });
    assert.equal(r.status, 'success', `${type} succeeded`);
    assert.equal(r.type, type, `${type} receipt type`);
    const tx = await client.getTransaction({ hash });
    assert.equal(tx.type, type, `${type} transaction type`);
    if (type === 'eip2930') assert.equal(tx.accessList.length, 1, 'access list kept');
    if (type === 'eip1559') assert.equal(tx.maxPriorityFeePerGas, parseGwei('1'));
    else assert.equal(tx.gasPrice, gasPrice);
  }
  step('legacy, eip2930 and eip1559 transactions mined');

  // Revert data: OpenZeppelin's custom error, decoded from eth_call and from eth_estimateGas.
  const tooMuch = 10n ** 30n;
  const revertOf = async (label, promise) => {
    const err = await promise.then(
      () => assert.fail(`${label} did not revert`),
      (e) => e,
    );
    assert.ok(err instanceof BaseError, `${label}: a viem error`);
    const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError);
    assert.ok(reverted, `${label}: revert data decoded (${err.shortMessage})`);
    assert.equal(reverted.data?.errorName, 'ERC20InsufficientBalance', label);
    const [sender, balance, needed] = reverted.data.args;
    assert.equal(sender, other.account.address, label);
    assert.equal(balance, amount, label);
    assert.equal(needed, tooMuch, label);
    return reverted.data.errorName;
  };
  const call = { account: other.account, address: token, abi, functionName: 'transfer', args: [me, tooMuch] };
  summary.callRevert = await revertOf('eth_call', client.simulateContract(call));
  summary.estimateRevert = await revertOf('eth_estimateGas', client.estimateContractGas(call));
  step('revert data decoded from eth_call and eth_estimateGas');

  summary.token = token;
  summary.transfer = transferHash;
  return summary;
}

/// Resolves when `check()` is true, rejecting with `what` after TIMEOUT_MS.
function until(what, check) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const timer = setInterval(() => {
      if (check()) {
        clearInterval(timer);
        resolve();
      } else if (Date.now() - started > TIMEOUT_MS) {
        clearInterval(timer);
        reject(new Error(`over WebSocket: ${what} within ${TIMEOUT_MS} ms`));
      }
    }, 20);
  });
}

/// watchBlockNumber, watchBlocks, watchContractEvent and watchPendingTransactions over a
/// webSocket transport (eth_subscribe newHeads, logs and newPendingTransactions).
async function wsFlow() {
  const chain = await chainAt(httpUrl);
  const { client, deployer, other } = clients(chain);
  const ws = createPublicClient({ chain, transport: webSocket(wsUrl) });
  const deployed = await deployToken(client, deployer, 10n ** 24n);
  const token = deployed.contractAddress;

  const errors = [];
  const onError = (e) => errors.push(e);
  const seen = { numbers: [], blocks: [], logs: [], pending: [] };
  const unwatch = [
    ws.watchBlockNumber({ onBlockNumber: (n) => seen.numbers.push(n), onError, emitOnBegin: false }),
    ws.watchBlocks({ onBlock: (b) => seen.blocks.push(b), onError }),
    ws.watchContractEvent({
      address: token, abi, eventName: 'Transfer', onLogs: (logs) => seen.logs.push(...logs), onError,
    }),
    ws.watchPendingTransactions({ onTransactions: (hashes) => seen.pending.push(...hashes), onError }),
  ];
  // The four eth_subscribe requests went out together; once newHeads notifications arrive,
  // the subscriptions are in place (no timing guess).
  await until('a first newHeads notification', () => seen.numbers.length > 0 && seen.blocks.length > 0);

  const to = other.account.address;
  const hashes = [];
  for (const value of [11n, 22n]) {
    hashes.push(await deployer.writeContract({ address: token, abi, functionName: 'transfer', args: [to, value] }));
  }
  const receipts = await Promise.all(
    hashes.map((hash) => client.waitForTransactionReceipt({ hash, timeout: TIMEOUT_MS })),
  );
  const lastBlock = receipts.reduce((m, r) => (r.blockNumber > m ? r.blockNumber : m), 0n);

  await until('watchBlockNumber saw the transfer blocks', () => seen.numbers.some((n) => n >= lastBlock));
  await until('watchBlocks saw the transfer blocks', () => seen.blocks.some((b) => b.number >= lastBlock));
  await until('watchContractEvent saw both transfers', () =>
    hashes.every((h) => seen.logs.some((l) => l.transactionHash === h)));
  await until('watchPendingTransactions saw both transfers', () =>
    hashes.every((h) => seen.pending.includes(h)));
  assert.deepEqual(errors, [], 'no watch reported an error');

  const values = seen.logs.filter((l) => hashes.includes(l.transactionHash)).map((l) => l.args.value);
  assert.deepEqual(values.sort(), [11n, 22n], 'decoded Transfer values');
  const withHash = seen.blocks.find((b) => b.number === receipts[0].blockNumber);
  assert.ok(withHash, 'the first transfer block arrived by watchBlocks');
  assert.equal(withHash.hash, receipts[0].blockHash, 'block hash of the newHeads header');
  for (const stop of unwatch) stop();
  step(`ws: ${seen.numbers.length} block numbers, ${seen.blocks.length} blocks, ${seen.logs.length} logs, ${seen.pending.length} pending`);
  return { blocks: seen.numbers.length, logs: seen.logs.length, pending: seen.pending.length };
}

async function main() {
  let summary;
  if (mode === 'http' && httpUrl) summary = await httpFlow();
  else if (mode === 'ws' && httpUrl && wsUrl) summary = await wsFlow();
  else throw new Error('usage: viem.mjs http <http-url> | ws <http-url> <ws-url>');
  console.log(JSON.stringify({ ok: true, mode, ...summary }, (_, v) => (typeof v === 'bigint' ? v.toString() : v)));
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e instanceof BaseError ? e.message : e?.stack ?? e);
    process.exit(1);
  },
);
