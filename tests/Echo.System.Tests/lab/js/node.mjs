// A js-libp2p "public" node of the NAT lab: TCP + Noise + Yamux, identify (and push), ping, a Kademlia DHT
// forced into server mode, AutoNAT v1 and v2, and (RELAY=1) a circuit-relay-v2 server.
// Run with: node --import ./polyfill.mjs node.mjs
//
// stdout carries only JSON lines: first {"type":"ready",...}, then events ("connection",
// "identify", also for an identify push) and one reply per command. Diagnostics go to stderr. See README.md.

import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { autoNAT } from '@libp2p/autonat'
import { autoNATv2 } from '@libp2p/autonat-v2'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify, identifyPush } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { peerIdFromString } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { createInterface } from 'node:readline'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

const DEFAULT_TIMEOUT_MS = 30_000
const env = process.env

function log (...args) {
  console.error('[lab-node]', ...args)
}

function emit (value) {
  process.stdout.write(JSON.stringify(value) + '\n')
}

function flag (name) {
  return ['1', 'true', 'yes'].includes((env[name] ?? '').trim().toLowerCase())
}

const listen = (env.LISTEN ?? '/ip4/127.0.0.1/tcp/0').split(',').map(s => s.trim()).filter(s => s !== '')
const relay = flag('RELAY')
// RELAY_DATA_LIMIT: bytes per direction a relayed connection may carry (js default 131072), so a test
// can make the relay cut a circuit early.
const relayDataLimit = (env.RELAY_DATA_LIMIT ?? '').trim()
// DHT_CLIENT=1: the DHT in client mode (asks only, in no routing table), as a node under test.
const dhtClient = flag('DHT_CLIENT')
// ALLOW_LOOPBACK=1: inbound connections from 127.0.0.0/8 skip js's per-IP limits (5 a second, 10
// pending), which a lab of many nodes on 127.0.0.1 would otherwise hit while they mesh.
const allowLoopback = flag('ALLOW_LOOPBACK')

function optionalInt (name) {
  const value = (env[name] ?? '').trim()
  return value === '' ? undefined : Number.parseInt(value, 10)
}

// Benchmarks only (the relay bench serves hundreds of circuits from loopback clients): the relay's
// reservation cap (js default 15), its circuits' duration limit in ms (js default 120000), and the
// connection manager's caps (js accepts 5 inbound connections a second per host by default).
const relayReservationOptions = Object.fromEntries(Object.entries({
  defaultDataLimit: relayDataLimit === '' ? undefined : BigInt(relayDataLimit),
  maxReservations: optionalInt('RELAY_MAX_RESERVATIONS'),
  defaultDurationLimit: optionalInt('RELAY_DURATION_LIMIT_MS')
}).filter(([, v]) => v !== undefined))
const connectionManager = Object.fromEntries(Object.entries({
  maxConnections: optionalInt('MAX_CONNECTIONS'),
  inboundConnectionThreshold: optionalInt('INBOUND_CONNECTION_THRESHOLD'),
  maxIncomingPendingConnections: optionalInt('MAX_INCOMING_PENDING_CONNECTIONS')
}).filter(([, v]) => v !== undefined))

const services = {
  identify: identify(),
  identifyPush: identifyPush(),
  ping: ping(),
  // Server mode regardless of reachability (client mode with DHT_CLIENT=1), and private (lab)
  // addresses kept in DHT answers.
  dht: kadDHT({ protocol: '/ipfs/kad/1.0.0', clientMode: dhtClient, peerInfoMapper: passthroughMapper }),
  autonat: autoNAT(),
  autonatV2: autoNATv2()
}
if (relay) {
  services.relay = circuitRelayServer(Object.keys(relayReservationOptions).length === 0
    ? {}
    : { reservations: relayReservationOptions })
}

const node = await createLibp2p({
  addresses: { listen },
  // The circuit transport lets the node dial .../p2p-circuit/p2p/<peer> (it reserves nowhere unless
  // told to by the reserve command).
  transports: [tcp(), circuitRelayTransport()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  connectionManager: allowLoopback ? { ...connectionManager, allow: ['/ip4/127.0.0.0/ipcidr/8'] } : connectionManager,
  services
})

// Requests the DHT sends, by message type, counted where kad-dht's network sends them (every
// attempt, whether or not the query still listens for the answer).
const sent = {}
{
  const network = node.services.dht.network
  for (const method of ['sendRequest', 'sendMessage']) {
    const original = network[method].bind(network)
    network[method] = async function * (to, message, options) {
      sent[message.type] = (sent[message.type] ?? 0) + 1
      yield * original(to, message, options)
    }
  }
}

function sentOf (...types) {
  return types.reduce((sum, type) => sum + (sent[type] ?? 0), 0)
}

// A full garbage collection on request (the `heap` command), without a command-line flag.
setFlagsFromString('--expose-gc')
const collect = runInNewContext('gc')

node.addEventListener('connection:open', (event) => {
  const connection = event.detail
  emit({
    type: 'connection',
    peerId: connection.remotePeer.toString(),
    remoteAddr: connection.remoteAddr.toString(),
    direction: connection.direction
  })
})

node.addEventListener('peer:identify', (event) => {
  const result = event.detail
  emit({
    type: 'identify',
    peerId: result.peerId.toString(),
    protocols: [...result.protocols].sort(),
    listenAddrs: result.listenAddrs.map(a => a.toString()),
    observedAddr: result.observedAddr?.toString() ?? null,
    agentVersion: result.agentVersion ?? null
  })
})

// A DHT key given as a hex multihash ("1220…"): as a CIDv1 raw (default) or, with "cidVersion":0, a CIDv0.
function cidOf (command) {
  if (command.key == null) throw new Error('give key (a hex multihash)')
  const digest = Digest.decode(Uint8Array.from(Buffer.from(command.key, 'hex')))
  return command.cidVersion === 0 ? CID.createV0(digest) : CID.createV1(0x55, digest)
}

function peerInfo (peer) {
  return { peerId: peer.id.toString(), addrs: (peer.multiaddrs ?? []).map(a => a.toString()) }
}

function target (command) {
  if (command.addr != null) return multiaddr(command.addr)
  if (command.peer != null) return peerIdFromString(command.peer)
  throw new Error('give addr or peer')
}

// The addresses autonatCheck is checking, per client. When a peer that speaks AutoNAT is identified,
// the client drops every result it has for an address that is not one of its own unverified ones
// (the lab's are private, so it has none), the check's too. That runs a few milliseconds after the
// identify event the tests wait for, so a check started at once could get its server's answer and
// find nothing to count it on (success 0, failure 0, the nonce returned). Results of addresses being
// checked are kept.
const checking = new WeakMap()
function keepWhileChecking (client) {
  let keys = checking.get(client)
  if (keys == null) {
    keys = new Set()
    checking.set(client, keys)
    const removeOutdated = client.removeOutdatedMultiaddrResults.bind(client)
    client.removeOutdatedMultiaddrResults = () => {
      const kept = [...keys].filter(key => client.dialResults.has(key)).map(key => [key, client.dialResults.get(key)])
      removeOutdated()
      for (const [key, results] of kept) {
        if (!client.dialResults.has(key)) log(`autonatCheck: the client dropped the result of ${key} while it was checked; kept`)
        client.dialResults.set(key, results)
      }
    }
  }
  return keys
}

keepWhileChecking(node.services.autonatV2.client)
keepWhileChecking(node.services.autonat)

const commands = {
  async dial (command, signal) {
    const connection = await node.dial(target(command), { signal })
    return { peerId: connection.remotePeer.toString(), remoteAddr: connection.remoteAddr.toString() }
  },
  async ping (command, signal) {
    return { rttMs: await node.services.ping.ping(target(command), { signal }) }
  },
  async connections () {
    return {
      connections: node.getConnections().map(c => ({
        peerId: c.remotePeer.toString(),
        remoteAddr: c.remoteAddr.toString(),
        direction: c.direction,
        limited: c.limits != null,
        // what js's circuit transport made of the relay's limit: seconds left and bytes left
        limitSeconds: c.limits?.seconds ?? null,
        limitBytes: c.limits?.bytes != null ? Number(c.limits.bytes) : null
      }))
    }
  },
  // Reserves on the relay at `addr` (…/p2p/<relay>/p2p-circuit): js's own circuit listener
  // (listen on the circuit address) makes the reservation; replies with the node's addresses then.
  async reserve (command) {
    if (command.addr == null) throw new Error('give addr (<relay>/p2p/<relay id>/p2p-circuit)')
    await node.components.transportManager.listen([multiaddr(command.addr)])
    return { addrs: node.getMultiaddrs().map(a => a.toString()) }
  },
  async peerStore (command) {
    const peer = await node.peerStore.get(peerIdFromString(command.peer))
    return {
      protocols: [...peer.protocols].sort(),
      addrs: peer.addresses.map(a => a.multiaddr.toString())
    }
  },
  async routingTable () {
    const peers = [...node.services.dht.routingTable.kb.toIterable()].map(p => p.peerId.toString()).sort()
    return { mode: node.services.dht.getMode(), peers }
  },
  // Test only: runs js's own AutoNAT client exchange for one given address (`addr`) with one
  // connected server (`peer`): v2 (`version` 2, default) sends DialRequest{addrs, nonce}, pays the
  // dial data it is asked for (4096-byte chunks), reads DialResponse and answers the dial back if the
  // nonce is ours; v1 sends DIAL and reads DIAL_RESPONSE. The client's own code does all of it and
  // keeps its usual counts; the command only stands in for its address selection, which skips
  // private addresses (every lab and loopback address is one), and for its peer queue.
  async autonatCheck (command, signal) {
    const version = command.version ?? 2
    if (version !== 1 && version !== 2) throw new Error('version is 1 or 2')
    const address = multiaddr(command.addr)
    const connection = node.getConnections(peerIdFromString(command.peer)).find(c => c.status === 'open' && c.limits == null)
    if (connection == null) throw new Error(`no open unlimited connection to ${command.peer}`)
    const client = version === 2 ? node.services.autonatV2.client : node.services.autonat
    const key = address.toString()
    if (client.dialResults.has(key)) throw new Error(`${key} is being checked already`)
    const verifying = new Set()
    const results = {
      multiaddr: address,
      success: 0,
      failure: 0,
      networkSegments: [],
      verifyingPeers: { has: (peer) => verifying.has(peer.toString()), add: (peer) => { verifying.add(peer.toString()) } },
      queue: { size: 0, abort () {} },
      type: command.type ?? 'transport'
    }
    client.dialResults.set(key, results)
    const keys = keepWhileChecking(client)
    keys.add(key)
    const segment = client.getNetworkSegment(connection.remoteAddr)
    const started = performance.now()
    let nonceReturned = null
    try {
      if (version === 2) {
        const nonce = BigInt(Math.floor(Math.random() * Number.MAX_SAFE_INTEGER))
        client.nonces.add(nonce)
        try {
          await client.askPeerToVerify(connection, segment, nonce, { signal })
          // only the client's dial-back handler removes it meanwhile, after it matched a dial back
          nonceReturned = !client.nonces.has(nonce)
        } finally {
          client.nonces.delete(nonce)
        }
      } else {
        await client.askPeerToVerify(connection, segment, { signal, multiaddr: address })
      }
    } finally {
      keys.delete(key)
      client.dialResults.delete(key)
    }
    return {
      version,
      addr: key,
      confirmed: results.result === true,
      success: results.success,
      failure: results.failure,
      nonceReturned,
      ms: performance.now() - started
    }
  },
  async provide (command, signal) {
    const cid = cidOf(command)
    let events = 0
    const before = sentOf('FIND_NODE', 'ADD_PROVIDER')
    const started = performance.now()
    for await (const event of node.services.dht.provide(cid, { signal })) {
      if (event.name === 'PEER_RESPONSE' || event.name === 'SEND_QUERY') events++
    }
    const ms = performance.now() - started
    return { cid: cid.toString(), events, ms, messages: sentOf('FIND_NODE', 'ADD_PROVIDER') - before }
  },
  async findProviders (command, signal) {
    const cid = cidOf(command)
    const max = command.max ?? 20
    const providers = new Map()
    let queries = 0
    let firstMs = null
    const before = sentOf('GET_PROVIDERS')
    const started = performance.now()
    for await (const event of node.services.dht.findProviders(cid, { signal })) {
      if (event.name === 'SEND_QUERY') queries++
      if (event.name !== 'PROVIDER') continue
      firstMs ??= performance.now() - started
      for (const peer of event.providers) {
        const known = providers.get(peer.id.toString())
        if (known == null || known.addrs.length === 0) providers.set(peer.id.toString(), peerInfo(peer))
      }
      if (providers.size >= max) break
    }
    const ms = performance.now() - started
    // `messages`: the SEND_QUERY events seen; `sent`: GET_PROVIDERS requests the network layer sent
    // meanwhile (also those whose events came after the loop ended).
    return { cid: cid.toString(), providers: [...providers.values()], messages: queries, sent: sentOf('GET_PROVIDERS') - before, ms, firstMs }
  },
  async heap () {
    collect()
    const usage = process.memoryUsage()
    return { heapUsed: usage.heapUsed, rss: usage.rss, routingTableSize: node.services.dht.routingTable.size }
  },
  async findPeer (command, signal) {
    for await (const event of node.services.dht.findPeer(peerIdFromString(command.peer), { signal })) {
      if (event.name === 'FINAL_PEER') return { found: true, ...peerInfo(event.peer) }
    }
    return { found: false }
  },
  async getClosestPeers (command, signal) {
    const key = command.peer != null
      ? peerIdFromString(command.peer).toMultihash().bytes
      : Uint8Array.from(Buffer.from(command.key ?? '', 'hex'))
    const peers = []
    for await (const event of node.services.dht.getClosestPeers(key, { signal })) {
      if (event.name === 'FINAL_PEER') peers.push(peerInfo(event.peer))
    }
    return { peers }
  },
  async stop () {
    setImmediate(() => { shutdown(0) })
    return {}
  }
}

async function run (line) {
  let command
  try {
    command = JSON.parse(line)
  } catch (err) {
    emit({ id: null, ok: false, error: `not JSON: ${err.message}` })
    return
  }
  const handler = commands[command.cmd]
  if (handler == null) {
    emit({ id: command.id ?? null, ok: false, error: `unknown command ${command.cmd}` })
    return
  }
  const signal = AbortSignal.timeout(command.timeoutMs ?? DEFAULT_TIMEOUT_MS)
  try {
    emit({ id: command.id ?? null, ok: true, ...(await handler(command, signal)) })
  } catch (err) {
    emit({ id: command.id ?? null, ok: false, error: `${err.name}: ${err.message}` })
  }
}

let stopping = false
async function shutdown (code) {
  if (stopping) return
  stopping = true
  const timer = setTimeout(() => process.exit(code), 5_000)
  timer.unref()
  try {
    await node.stop()
  } catch (err) {
    log('stop failed', err)
  }
  process.exit(code)
}

process.on('SIGTERM', () => { shutdown(0) })
process.on('SIGINT', () => { shutdown(0) })

emit({
  type: 'ready',
  peerId: node.peerId.toString(),
  addrs: node.getMultiaddrs().map(a => a.toString()),
  protocols: node.getProtocols().sort(),
  relay
})

const input = createInterface({ input: process.stdin })
input.on('line', (line) => {
  if (line.trim() !== '') run(line)
})
input.on('close', () => { shutdown(0) })
