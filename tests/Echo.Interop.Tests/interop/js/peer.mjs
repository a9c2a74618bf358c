// A js-libp2p peer driven over a line-based JSON control channel, for Echo's interop tests
// and benchmarks. Run with: node --import ./polyfill.mjs peer.mjs
//
// stdout carries only protocol lines (the "ready" line, replies, events); diagnostics go to
// stderr. See README.md for the command protocol.

import { createHash, createCipheriv, randomBytes } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { peerIdFromString } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

const ECHO_PROTOCOL = '/test/echo/1.0.0'
const PERF_PROTOCOL = '/perf/1.0.0'
const PING_PROTOCOL = '/ipfs/ping/1.0.0'
const PING_LENGTH = 32
const CHUNK_LENGTH = 64 * 1024
const ZEROS = new Uint8Array(CHUNK_LENGTH)
const DEFAULT_TIMEOUT_MS = 60_000
const IDENTIFY_WAIT_MS = 5_000
const STOP_TIMEOUT_MS = 5_000
const MAX_STREAMS_PER_TEST_PROTOCOL = 1024
const SPAWN_CONCURRENCY = 8
// Benchmark messages start with the publisher's CLOCK_MONOTONIC in ns (int64 LE), a publisher tag
// and a sequence number (uint32 LE each); after benchReset received messages are recorded, not emitted.
const BENCH_HEADER_LENGTH = 16

// ---------------------------------------------------------------------------------------------
// configuration

const env = process.env

function choice (name, supported) {
  const value = (env[name] ?? supported).trim().toLowerCase()
  if (value !== supported) {
    throw new Error(`${name}=${value} is not supported by this peer (only ${supported})`)
  }
  return value
}

function optionalInt (name) {
  const raw = env[name]
  if (raw == null || raw === '') return undefined
  const value = Number.parseInt(raw, 10)
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name}=${raw} is not a non-negative integer`)
  return value
}

function flag (name) {
  return ['1', 'true', 'yes'].includes((env[name] ?? '').trim().toLowerCase())
}

function readConfig () {
  return {
    transport: choice('transport', 'tcp'),
    security: choice('security', 'noise'),
    muxer: choice('muxer', 'yamux'),
    listen: (env.LISTEN ?? '/ip4/127.0.0.1/tcp/0').split(',').map(s => s.trim()).filter(s => s !== ''),
    agent: env.AGENT,
    gossipsub: flag('GOSSIPSUB'),
    mdns: flag('MDNS'),
    connectionManager: Object.fromEntries(Object.entries({
      maxConnections: optionalInt('MAX_CONNECTIONS'),
      inboundConnectionThreshold: optionalInt('INBOUND_CONNECTION_THRESHOLD'),
      maxIncomingPendingConnections: optionalInt('MAX_INCOMING_PENDING_CONNECTIONS')
    }).filter(([, v]) => v !== undefined))
  }
}

function log (...args) {
  console.error('[js-peer]', ...args)
}

if (typeof Promise.withResolvers !== 'function') {
  log('Promise.withResolvers is missing: run with node --import ./polyfill.mjs peer.mjs')
  process.exit(2)
}

let config
try {
  config = readConfig()
} catch (err) {
  log(err.message)
  process.exit(2)
}

// ---------------------------------------------------------------------------------------------
// stream helpers (js-libp2p 3.x streams are event emitters: send() / 'message' / 'end' / 'close')

/** The chunks of a 'message' event payload, which is a Uint8Array or a Uint8ArrayList. */
function chunksOf (data) {
  return data instanceof Uint8Array ? [data] : [...data]
}

/** Sends one chunk, waiting for 'drain' when the stream reports its buffer is full. */
async function sendChunk (stream, chunk, signal) {
  if (!stream.send(chunk)) {
    await stream.onDrain({ signal })
  }
}

/**
 * Feeds every received chunk to onChunk until the remote closes its writable end.
 * Attach before sending anything so no data waits in the stream's bounded read buffer.
 */
function readToEnd (stream, onChunk, signal) {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      stream.removeEventListener('message', onMessage)
      stream.removeEventListener('end', onEnd)
      stream.removeEventListener('close', onClose)
      signal?.removeEventListener('abort', onAbort)
    }
    const fail = (err) => {
      cleanup()
      reject(err)
    }
    const onMessage = (evt) => {
      try {
        for (const chunk of chunksOf(evt.data)) onChunk(chunk)
      } catch (err) {
        stream.abort(err)
        fail(err)
      }
    }
    const onEnd = () => {
      cleanup()
      resolve()
    }
    const onClose = (evt) => {
      if (evt.error != null) {
        fail(evt.error)
      } else {
        cleanup()
        resolve()
      }
    }
    const onAbort = () => {
      stream.abort(signal.reason)
      fail(signal.reason)
    }
    if (signal?.aborted) {
      onAbort()
      return
    }
    stream.addEventListener('message', onMessage)
    stream.addEventListener('end', onEnd)
    stream.addEventListener('close', onClose)
    signal?.addEventListener('abort', onAbort)
    if (stream.readableEnded && stream.readBufferLength === 0) onEnd()
  })
}

/** A deterministic byte source: AES-128-CTR keystream keyed by the seed. */
function byteSource (seed) {
  const key = createHash('sha256').update(`echo-interop-${seed}`).digest().subarray(0, 16)
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16))
  return (length) => new Uint8Array(cipher.update(ZEROS.subarray(0, length)))
}

function round (ms) {
  return Math.round(ms * 1000) / 1000
}

function bytesArg (args, name, fallback) {
  const value = args[name] ?? fallback
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer`)
  return value
}

// ---------------------------------------------------------------------------------------------
// protocol handlers

/** /test/echo/1.0.0: echo every byte back until the remote half-closes, then close. */
async function handleEcho (stream) {
  // js's yamux grants the sender a fresh window for every frame as it arrives, before the bytes
  // are read, so on a busy machine more than the default 4 MB read buffer can pile up while this
  // handler waits for its output to drain, and the stream would be reset. Room for a whole test
  // transfer keeps the echo peer within what its own yamux lets the sender send.
  stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength ?? 0, 256 * 1024 * 1024)
  const done = Promise.withResolvers()
  const cleanup = () => {
    stream.removeEventListener('message', onMessage)
    stream.removeEventListener('end', onEnd)
    stream.removeEventListener('close', onClose)
  }
  const onMessage = (evt) => {
    try {
      if (!stream.send(evt.data)) {
        // Stop reading (and granting the remote send window) until our output drains.
        stream.pause()
        stream.onDrain().then(() => {
          if (stream.readStatus === 'paused') stream.resume()
        }, (err) => stream.abort(err))
      }
    } catch (err) {
      stream.abort(err)
    }
  }
  const onEnd = () => {
    cleanup()
    stream.close().then(done.resolve, done.reject)
  }
  const onClose = (evt) => {
    cleanup()
    if (evt.error != null) done.reject(evt.error)
    else done.resolve()
  }
  stream.addEventListener('message', onMessage)
  stream.addEventListener('end', onEnd)
  stream.addEventListener('close', onClose)
  if (stream.readableEnded && stream.readBufferLength === 0) onEnd()
  try {
    await done.promise
  } catch (err) {
    log(`echo stream ${stream.id} failed: ${errorText(err)}`)
    stream.abort(err)
  }
}

/** /perf/1.0.0 server: read a u64 (big-endian) byte count, drain the upload, send that many bytes. */
async function handlePerf (stream) {
  try {
    const header = new Uint8Array(8)
    let headerLength = 0
    let uploaded = 0
    await readToEnd(stream, (chunk) => {
      if (headerLength < 8) {
        const take = Math.min(8 - headerLength, chunk.length)
        header.set(chunk.subarray(0, take), headerLength)
        headerLength += take
        chunk = chunk.subarray(take)
      }
      uploaded += chunk.length
    })
    if (headerLength < 8) throw new Error(`perf stream ended after ${headerLength} of 8 header bytes`)
    const requested = new DataView(header.buffer).getBigUint64(0, false)
    let remaining = requested > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(requested)
    log(`perf: received ${uploaded} bytes, sending ${remaining}`)
    while (remaining > 0) {
      const length = Math.min(CHUNK_LENGTH, remaining)
      await sendChunk(stream, length === CHUNK_LENGTH ? ZEROS : ZEROS.subarray(0, length))
      remaining -= length
    }
    await stream.close()
  } catch (err) {
    log(`perf stream ${stream.id} failed: ${errorText(err)}`)
    stream.abort(err)
  }
}

// ---------------------------------------------------------------------------------------------
// nodes

async function createNode ({ listen, main }) {
  const services = {
    identify: identify(),
    ping: ping()
  }
  if (main && config.gossipsub) {
    const { gossipsub } = await import('@libp2p/gossipsub')
    services.pubsub = gossipsub()
  }
  const peerDiscovery = []
  if (main && config.mdns) {
    const { mdns } = await import('@libp2p/mdns')
    peerDiscovery.push(mdns())
  }
  const options = {
    addresses: { listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: config.connectionManager,
    peerDiscovery,
    services
  }
  if (config.agent != null && config.agent !== '') options.nodeInfo = { userAgent: config.agent }
  const node = await createLibp2p(options)
  const handlerOptions = {
    maxInboundStreams: MAX_STREAMS_PER_TEST_PROTOCOL,
    maxOutboundStreams: MAX_STREAMS_PER_TEST_PROTOCOL
  }
  await node.handle(ECHO_PROTOCOL, handleEcho, handlerOptions)
  await node.handle(PERF_PROTOCOL, handlePerf, handlerOptions)
  return node
}

async function stopNode (node) {
  let timer
  try {
    await Promise.race([
      node.stop(),
      new Promise((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`node did not stop within ${STOP_TIMEOUT_MS} ms`)), STOP_TIMEOUT_MS)
      })
    ])
  } catch (err) {
    log(`stopping node ${node.peerId}: ${errorText(err)}`)
  } finally {
    clearTimeout(timer)
  }
}

// ---------------------------------------------------------------------------------------------
// control channel

function write (message) {
  process.stdout.write(JSON.stringify(message) + '\n')
}

function emit (event, fields) {
  write({ type: 'event', event, ...fields })
}

function errorText (err) {
  if (err == null) return 'unknown error'
  let text = typeof err === 'object' && 'message' in err ? String(err.message) : String(err)
  const name = err?.name
  if (name != null && name !== 'Error' && !text.startsWith(name)) text = `${name}: ${text}`
  if (Array.isArray(err?.errors) && err.errors.length > 0) {
    text += ' [' + err.errors.map(errorText).join('; ') + ']'
  }
  if (err?.cause != null && err.cause !== err) text += ` (cause: ${errorText(err.cause)})`
  return text
}

function connectionInfo (conn) {
  return {
    peerId: conn.remotePeer.toString(),
    remoteAddr: conn.remoteAddr.toString(),
    direction: conn.direction,
    connectionId: conn.id
  }
}

function target (args) {
  if (typeof args.addr === 'string' && args.addr !== '') return multiaddr(args.addr)
  if (typeof args.peer === 'string' && args.peer !== '') return peerIdFromString(args.peer)
  throw new Error('give "peer" (a peer id) or "addr" (a multiaddr)')
}

function peerArg (args) {
  if (typeof args.peer !== 'string' || args.peer === '') throw new Error('"peer" (a peer id) is required')
  return peerIdFromString(args.peer)
}

let node
const dialers = []
const identifyResults = new Map()
const identifyWaiters = new Map()
const bench = { recording: false, tags: [], seqs: [], latencyUs: [], lastNs: 0n }

function waitForIdentify (peerId, ms, signal) {
  const key = peerId.toString()
  const known = identifyResults.get(key)
  if (known != null) return Promise.resolve(known)
  return new Promise((resolve) => {
    let waiters = identifyWaiters.get(key)
    if (waiters == null) identifyWaiters.set(key, waiters = new Set())
    const finish = (result) => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      waiters.delete(finish)
      resolve(result)
    }
    const onAbort = () => finish(undefined)
    const timer = setTimeout(() => finish(undefined), ms)
    signal?.addEventListener('abort', onAbort)
    waiters.add(finish)
  })
}

/** One /ipfs/ping/1.0.0 round trip on a given connection, timed from the stream being ready. */
async function pingOnConnection (conn, signal) {
  const stream = await conn.newStream(PING_PROTOCOL, { signal })
  const payload = randomBytes(PING_LENGTH)
  const pong = Buffer.alloc(PING_LENGTH)
  let received = 0
  const started = performance.now()
  try {
    await new Promise((resolve, reject) => {
      const cleanup = () => {
        stream.removeEventListener('message', onMessage)
        stream.removeEventListener('close', onClose)
        signal.removeEventListener('abort', onAbort)
      }
      const onMessage = (evt) => {
        for (const chunk of chunksOf(evt.data)) {
          const take = Math.min(chunk.length, PING_LENGTH - received)
          pong.set(chunk.subarray(0, take), received)
          received += take
        }
        if (received === PING_LENGTH) {
          cleanup()
          resolve()
        }
      }
      const onClose = (evt) => {
        cleanup()
        reject(evt.error ?? new Error(`ping stream closed after ${received} of ${PING_LENGTH} bytes`))
      }
      const onAbort = () => {
        cleanup()
        reject(signal.reason)
      }
      stream.addEventListener('message', onMessage)
      stream.addEventListener('close', onClose)
      signal.addEventListener('abort', onAbort)
      stream.send(payload)
    })
    const rtt = performance.now() - started
    if (!pong.equals(payload)) throw new Error('ping reply did not match the payload')
    await stream.close({ signal })
    return rtt
  } catch (err) {
    stream.abort(err)
    throw err
  }
}

async function echoOnce (dest, bytes, seed, signal) {
  const stream = await node.dialProtocol(dest, ECHO_PROTOCOL, { signal })
  const started = performance.now()
  const receivedHash = createHash('sha256')
  let receivedBytes = 0
  const reading = readToEnd(stream, (chunk) => {
    receivedHash.update(chunk)
    receivedBytes += chunk.length
  }, signal)
  reading.catch(() => {})
  const sentHash = createHash('sha256')
  const next = byteSource(seed)
  try {
    for (let remaining = bytes; remaining > 0;) {
      const chunk = next(Math.min(CHUNK_LENGTH, remaining))
      sentHash.update(chunk)
      await sendChunk(stream, chunk, signal)
      remaining -= chunk.length
    }
    await stream.close({ signal })
    await reading
  } catch (err) {
    stream.abort(err)
    throw err
  }
  return {
    sentBytes: bytes,
    sentSha256: sentHash.digest('hex'),
    receivedBytes,
    receivedSha256: receivedHash.digest('hex'),
    ms: round(performance.now() - started)
  }
}

const commands = {
  async dial (args, signal) {
    const conn = await node.dial(multiaddr(args.addr), { signal })
    return { peerId: conn.remotePeer.toString(), remoteAddr: conn.remoteAddr.toString(), direction: conn.direction }
  },

  async ping (args, signal) {
    // js-libp2p's own ping client; it reports whole milliseconds, so elapsedMs adds a
    // sub-millisecond figure that also covers opening and negotiating the stream.
    const started = performance.now()
    const rtt = await node.services.ping.ping(target(args), { signal })
    return { rttMs: rtt, elapsedMs: round(performance.now() - started) }
  },

  async identify (args, signal) {
    const peerId = peerArg(args)
    const key = peerId.toString()
    if (node.getConnections(peerId).length === 0) throw new Error(`not connected to ${key}`)
    const waitMs = Math.min(args.waitMs ?? IDENTIFY_WAIT_MS, DEFAULT_TIMEOUT_MS)
    let result = await waitForIdentify(peerId, waitMs, signal)
    if (result == null) {
      // The automatic identify has not completed; run it explicitly to surface its error.
      const conn = node.getConnections(peerId)[0]
      if (conn == null) throw new Error(`connection to ${key} closed before identify completed`)
      result = await node.services.identify.identify(conn, { signal })
    }
    const peer = await node.peerStore.get(peerId)
    const text = (bytes) => bytes == null ? null : new TextDecoder().decode(bytes)
    return {
      peerId: key,
      protocols: [...peer.protocols].sort(),
      agentVersion: text(peer.metadata.get('AgentVersion')) ?? result.agentVersion ?? null,
      protocolVersion: text(peer.metadata.get('ProtocolVersion')) ?? result.protocolVersion ?? null,
      listenAddrs: (result.listenAddrs ?? []).map(String),
      peerStoreAddrs: peer.addresses.map(a => a.multiaddr.toString()),
      observedAddr: result.observedAddr?.toString() ?? null,
      identifyProtocols: [...(result.protocols ?? [])].sort()
    }
  },

  async echo (args, signal) {
    const bytes = bytesArg(args, 'bytes', 0)
    return await echoOnce(target(args), bytes, args.seed ?? randomBytes(8).toString('hex'), signal)
  },

  async echoMany (args, signal) {
    const dest = target(args)
    const streams = bytesArg(args, 'streams', 1)
    const bytes = bytesArg(args, 'bytes', 0)
    const started = performance.now()
    const outcomes = await Promise.allSettled(
      Array.from({ length: streams }, (_, i) => echoOnce(dest, bytes, `${args.seed ?? 'many'}-${i}`, signal)))
    const failures = []
    outcomes.forEach((outcome, i) => {
      if (outcome.status === 'rejected') {
        failures.push(`stream ${i}: ${errorText(outcome.reason)}`)
      } else if (outcome.value.receivedSha256 !== outcome.value.sentSha256) {
        failures.push(`stream ${i}: sent ${bytes} bytes, got back ${outcome.value.receivedBytes} different bytes`)
      }
    })
    return { succeeded: streams - failures.length, failures, ms: round(performance.now() - started) }
  },

  async perf (args, signal) {
    const uploadBytes = bytesArg(args, 'uploadBytes', 0)
    const downloadBytes = bytesArg(args, 'downloadBytes', 0)
    const stream = await node.dialProtocol(target(args), PERF_PROTOCOL, { signal })
    const started = performance.now()
    let downloaded = 0
    const reading = readToEnd(stream, (chunk) => { downloaded += chunk.length }, signal)
    reading.catch(() => {})
    let uploaded
    try {
      const header = new Uint8Array(8)
      new DataView(header.buffer).setBigUint64(0, BigInt(downloadBytes), false)
      await sendChunk(stream, header, signal)
      for (let remaining = uploadBytes; remaining > 0;) {
        const length = Math.min(CHUNK_LENGTH, remaining)
        await sendChunk(stream, length === CHUNK_LENGTH ? ZEROS : ZEROS.subarray(0, length), signal)
        remaining -= length
      }
      await stream.close({ signal })
      uploaded = performance.now()
      await reading
    } catch (err) {
      stream.abort(err)
      throw err
    }
    const finished = performance.now()
    if (downloaded !== downloadBytes) throw new Error(`perf: asked for ${downloadBytes} bytes, received ${downloaded}`)
    return {
      uploadBytes,
      downloadBytes,
      uploadMs: round(uploaded - started),
      downloadMs: round(finished - uploaded),
      totalMs: round(finished - started)
    }
  },

  async dialBench (args, signal) {
    const addr = multiaddr(args.addr)
    const count = bytesArg(args, 'count', 1)
    const mode = args.mode ?? 'redial'
    if (mode !== 'redial' && mode !== 'newNode') throw new Error('mode must be "redial" or "newNode"')
    const ready = []
    const firstPing = []
    let dialer = mode === 'redial' ? await createNode({ listen: [], main: false }) : null
    try {
      for (let i = 0; i < count; i++) {
        if (dialer == null) dialer = await createNode({ listen: [], main: false })
        const started = performance.now()
        const conn = await dialer.dial(addr, { signal })
        const connected = performance.now()
        await pingOnConnection(conn, signal)
        const pinged = performance.now()
        ready.push(round(connected - started))
        firstPing.push(round(pinged - started))
        await dialer.hangUp(conn.remotePeer, { signal })
        if (mode === 'newNode') {
          await stopNode(dialer)
          dialer = null
        }
      }
    } finally {
      if (dialer != null) await stopNode(dialer)
    }
    return { ready, firstPing }
  },

  async spawnDialers (args, signal) {
    const addr = multiaddr(args.addr)
    const count = bytesArg(args, 'count', 1)
    const concurrency = Math.max(1, bytesArg(args, 'concurrency', SPAWN_CONCURRENCY))
    const errors = []
    let connected = 0
    let next = 0
    const worker = async () => {
      while (next < count && !signal.aborted) {
        next++
        const dialer = await createNode({ listen: [], main: false })
        dialers.push(dialer)
        try {
          await dialer.dial(addr, { signal })
          connected++
        } catch (err) {
          if (errors.length < 10) errors.push(errorText(err))
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
    return { connected, failed: count - connected, errors, dialers: dialers.length }
  },

  async closeDialers () {
    const closing = dialers.splice(0, dialers.length)
    await Promise.all(closing.map(stopNode))
    return { closed: closing.length }
  },

  async stats () {
    const memory = process.memoryUsage()
    return {
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      heapTotal: memory.heapTotal,
      external: memory.external,
      connections: node.getConnections().length,
      dialers: dialers.length
    }
  },

  async connections () {
    return {
      connections: node.getConnections().map(conn => ({
        ...connectionInfo(conn),
        status: conn.status,
        streams: conn.streams.length,
        multiplexer: conn.multiplexer ?? null,
        encryption: conn.encryption ?? null
      }))
    }
  },

  async hangup (args, signal) {
    await node.hangUp(target(args), { signal })
    return {}
  },

  async subscribe (args) {
    pubsub().subscribe(String(args.topic))
    return {}
  },

  async unsubscribe (args) {
    pubsub().unsubscribe(String(args.topic))
    return {}
  },

  async publish (args) {
    const data = args.dataBase64 != null ? Buffer.from(args.dataBase64, 'base64') : Buffer.from(String(args.data ?? ''), 'utf8')
    const result = await pubsub().publish(String(args.topic), data)
    return { recipients: result.recipients.map(String) }
  },

  async meshPeers (args) {
    return { peers: pubsub().getMeshPeers(String(args.topic)).map(String) }
  },

  // Benchmark commands: see bench.reset below and BenchPayload in bench/Echo.Bench.
  async benchReset () {
    bench.recording = true
    bench.tags = []
    bench.seqs = []
    bench.latencyUs = []
    bench.lastNs = 0n
    return {}
  },

  async benchPublish (args, signal) {
    const topic = String(args.topic)
    const count = bytesArg(args, 'count', 1)
    const rate = Number(args.rate ?? 0)
    const tag = Number(args.tag ?? 0)
    const firstSeq = Number(args.firstSeq ?? 0)
    const payload = Buffer.alloc(Math.max(BENCH_HEADER_LENGTH, Number(args.size ?? 100)))
    const start = process.hrtime.bigint()
    for (let i = 0; i < count && !signal.aborted; i++) {
      if (rate > 0) {
        const wait = start + BigInt(Math.round(i * 1e9 / rate)) - process.hrtime.bigint()
        if (wait > 0n) await new Promise(resolve => setTimeout(resolve, Number(wait) / 1e6))
      }
      payload.writeBigInt64LE(process.hrtime.bigint(), 0)
      payload.writeUInt32LE(tag, 8)
      payload.writeUInt32LE(firstSeq + i, 12)
      await pubsub().publish(topic, payload)
    }
    return { published: count, startNs: String(start), endNs: String(process.hrtime.bigint()) }
  },

  async benchCount () {
    const cpu = process.cpuUsage()
    return { count: bench.tags.length, lastNs: String(bench.lastNs), cpuMs: (cpu.user + cpu.system) / 1000 }
  },

  async benchReceived () {
    return { count: bench.tags.length, lastNs: String(bench.lastNs), tags: bench.tags, seqs: bench.seqs, latencyUs: bench.latencyUs }
  },

  async stop () {
    setImmediate(() => { shutdown(0) })
    return {}
  }
}

function pubsub () {
  if (node.services.pubsub == null) throw new Error('gossipsub is off; start the peer with GOSSIPSUB=1')
  return node.services.pubsub
}

async function runCommand (line) {
  let request
  try {
    request = JSON.parse(line)
  } catch (err) {
    write({ id: null, ok: false, error: `not JSON: ${errorText(err)}` })
    return
  }
  const id = request?.id ?? null
  const handler = typeof request?.cmd === 'string' && Object.hasOwn(commands, request.cmd) ? commands[request.cmd] : null
  if (handler == null) {
    write({ id, ok: false, error: `unknown command ${JSON.stringify(request?.cmd)}` })
    return
  }
  const timeoutMs = Number.isSafeInteger(request.timeoutMs) && request.timeoutMs > 0 ? request.timeoutMs : DEFAULT_TIMEOUT_MS
  const signal = AbortSignal.timeout(timeoutMs)
  setMaxListeners(Infinity, signal)
  try {
    const result = await handler(request, signal)
    write({ id, ok: true, ...result })
  } catch (err) {
    log(`${request.cmd} failed: ${errorText(err)}`)
    write({ id, ok: false, error: signal.aborted ? `${request.cmd} timed out after ${timeoutMs} ms: ${errorText(err)}` : errorText(err) })
  }
}

let stopping = null

function shutdown (code) {
  stopping ??= (async () => {
    await Promise.all(dialers.splice(0, dialers.length).map(stopNode))
    if (node != null) await stopNode(node)
    process.exit(code)
  })()
  return stopping
}

process.on('SIGTERM', () => { shutdown(0) })
process.on('SIGINT', () => { shutdown(0) })
process.stdout.on('error', (err) => {
  log(`stdout: ${errorText(err)}`)
  shutdown(0)
})
process.on('unhandledRejection', (err) => { log(`unhandled rejection: ${errorText(err)}`) })
process.on('uncaughtException', (err) => { log(`uncaught exception: ${err?.stack ?? errorText(err)}`) })

try {
  node = await createNode({ listen: config.listen, main: true })
} catch (err) {
  log(`start failed: ${err?.stack ?? errorText(err)}`)
  process.exit(2)
}

node.addEventListener('connection:open', (evt) => emit('connection:open', connectionInfo(evt.detail)))
node.addEventListener('connection:close', (evt) => emit('connection:close', connectionInfo(evt.detail)))
node.addEventListener('peer:disconnect', (evt) => { identifyResults.delete(evt.detail.toString()) })
node.addEventListener('peer:identify', (evt) => {
  const result = evt.detail
  const key = result.peerId.toString()
  identifyResults.set(key, result)
  for (const finish of [...(identifyWaiters.get(key) ?? [])]) finish(result)
  identifyWaiters.delete(key)
  emit('peer:identify', { peerId: key, protocols: [...result.protocols].sort(), agentVersion: result.agentVersion ?? null })
})
node.addEventListener('peer:discovery', (evt) => {
  emit('peer:discovery', { peerId: evt.detail.id.toString(), addrs: evt.detail.multiaddrs.map(String) })
})
if (node.services.pubsub != null) {
  node.services.pubsub.addEventListener('message', (evt) => {
    const msg = evt.detail
    if (bench.recording) {
      const now = process.hrtime.bigint()
      if (msg.data.length >= BENCH_HEADER_LENGTH) {
        const data = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.length)
        bench.tags.push(data.readUInt32LE(8))
        bench.seqs.push(data.readUInt32LE(12))
        bench.latencyUs.push(Math.round(Number(now - data.readBigInt64LE(0)) / 100) / 10)
        bench.lastNs = now
      }
      return
    }
    emit('pubsub:message', {
      topic: msg.topic,
      from: msg.type === 'signed' ? msg.from.toString() : null,
      dataBase64: Buffer.from(msg.data).toString('base64')
    })
  })
}

// ---------------------------------------------------------------------------------------------
// chat protocols (Echo.Protocols interop): go-libp2p chat-example rooms and echo-go's line protocol
//
// Rooms (needs GOSSIPSUB=1): a room is the topic `chat-room:<room>` carrying the JSON object
// {"Message","SenderID","SenderNick"}; `chatPublish` sends one, and every message on a chat-room
// topic is reported parsed as a `chat:message` event.
// echo-go (ECHO_GO=1): lines `name|text\n` on `/echo-go/chat/1.0.0`, handled by the rules of the real
// echo-go program, which knows no tie-break:
// (1) it opens a stream only from its own dial (`echoGoDial`, like its argv or an mDNS find) and
//     stores it for the peer, replacing any stored one;
// (2) an inbound stream that arrives while it has one stored for that peer is closed at once, unread;
//     otherwise it is stored;
// (3) when any stream of a peer ends (EOF or reset), it forgets the peer entirely: nothing is stored
//     and it never opens a new stream by itself.
// It reads every stream it did not close, and writes only to the stored one.

const ECHO_GO_PROTOCOL = '/echo-go/chat/1.0.0'
const CHAT_TOPIC_PREFIX = 'chat-room:'
const ECHO_GO_KEPT_LINES = 10_000
const echoGoMode = (env.ECHO_GO ?? '').trim().toLowerCase()
const echoGoStored = new Map()     // peer id -> { stream, direction }
const echoGoReceived = new Map()   // peer id -> lines received from it (all streams), oldest first
const echoGoForgotten = new Map()  // peer id -> how many times rule 3 forgot it
const echoGoRefused = new Map()    // peer id -> inbound streams closed by rule 2

function count (map, key) {
  map.set(key, (map.get(key) ?? 0) + 1)
}

function readEchoGo (stream, remotePeer, direction) {
  const key = remotePeer.toString()
  const decoder = new TextDecoder()
  let pending = ''
  let ended = false
  const addLine = (line) => {
    let lines = echoGoReceived.get(key)
    if (lines == null) echoGoReceived.set(key, lines = [])
    lines.push(line)
    if (lines.length > ECHO_GO_KEPT_LINES) lines.shift()
    emit('echoGo:line', { peerId: key, direction, line })
  }
  const flushLines = () => {
    let newline
    while ((newline = pending.indexOf('\n')) >= 0) {
      addLine(pending.slice(0, newline))
      pending = pending.slice(newline + 1)
    }
  }
  const onEnd = (why) => {
    if (ended) return
    ended = true
    pending += decoder.decode()
    flushLines()
    if (pending !== '') addLine(pending)
    pending = ''
    // Rule 3: any stream of the peer ending forgets the peer.
    echoGoStored.delete(key)
    count(echoGoForgotten, key)
    emit('echoGo:forgot', { peerId: key, direction, why })
  }
  stream.addEventListener('message', (evt) => {
    for (const chunk of chunksOf(evt.data)) pending += decoder.decode(chunk.subarray(), { stream: true })
    flushLines()
  })
  stream.addEventListener('remoteCloseWrite', () => onEnd('eof'))
  stream.addEventListener('end', () => onEnd('eof'))
  stream.addEventListener('close', (evt) => onEnd(evt.error != null ? `error: ${errorText(evt.error)}` : 'closed'))
  // The stream may have ended before these listeners existed (e.g. its connection closed during the open).
  if (stream.status !== 'open') onEnd(stream.status)
  else if (stream.remoteWriteStatus === 'closed' || stream.readableEnded) onEnd('eof')
}

function storeEchoGo (stream, remotePeer, direction) {
  echoGoStored.set(remotePeer.toString(), { stream, direction })
  emit('echoGo:stream', { peerId: remotePeer.toString(), direction })
}

if (echoGoMode === '1') {
  await node.handle(ECHO_GO_PROTOCOL, (stream, connection) => {
    const key = connection.remotePeer.toString()
    if (echoGoStored.has(key)) {
      // Rule 2: closed at once, unread (what arrives later is discarded).
      count(echoGoRefused, key)
      emit('echoGo:refused', { peerId: key })
      stream.closeRead().catch(() => {})
      stream.close().catch((err) => stream.abort(err))
      return
    }
    storeEchoGo(stream, connection.remotePeer, 'inbound')
    readEchoGo(stream, connection.remotePeer, 'inbound')
  }, { maxInboundStreams: MAX_STREAMS_PER_TEST_PROTOCOL, maxOutboundStreams: MAX_STREAMS_PER_TEST_PROTOCOL })
}

if (node.services.pubsub != null) {
  node.services.pubsub.addEventListener('message', (evt) => {
    const msg = evt.detail
    if (!msg.topic.startsWith(CHAT_TOPIC_PREFIX)) return
    const from = msg.type === 'signed' ? msg.from.toString() : null
    try {
      const chat = JSON.parse(new TextDecoder().decode(msg.data))
      emit('chat:message', {
        room: msg.topic.slice(CHAT_TOPIC_PREFIX.length),
        from,
        senderId: chat.SenderID ?? null,
        nick: chat.SenderNick ?? null,
        text: chat.Message ?? null,
        timestamp: chat.Timestamp ?? null
      })
    } catch (err) {
      emit('chat:invalid', { topic: msg.topic, from, error: errorText(err) })
    }
  })
}

Object.assign(commands, {
  /** `room`, `nick`, `text`: publishes go chat-example JSON; replies with `recipients`. */
  async chatPublish (args) {
    const json = JSON.stringify({ Message: String(args.text), SenderID: node.peerId.toString(), SenderNick: String(args.nick) })
    const result = await pubsub().publish(CHAT_TOPIC_PREFIX + String(args.room), new TextEncoder().encode(json))
    return { recipients: result.recipients.map(String) }
  },

  /**
   * `addr`: dials it (reusing a connection to that peer, as go's Connect does) and opens an echo-go
   * stream, which is stored for the peer (rule 1). Like go-libp2p's NewStream, the open waits for
   * identify on the connection first, so it meets an open the peer makes when identify tells it we
   * speak echo-go. Replies `peerId` and `opened`; a failed open is reported as `error`, as echo-go
   * only logs it.
   */
  async echoGoDial (args, signal) {
    const addr = multiaddr(String(args.addr))
    const connection = await node.dial(addr, { signal })
    await waitForIdentify(connection.remotePeer, IDENTIFY_WAIT_MS, signal)
    try {
      const stream = await connection.newStream(ECHO_GO_PROTOCOL, { signal, negotiateFully: false })
      storeEchoGo(stream, connection.remotePeer, 'outbound')
      readEchoGo(stream, connection.remotePeer, 'outbound')
      return { peerId: connection.remotePeer.toString(), opened: true }
    } catch (err) {
      log(`echo-go open to ${connection.remotePeer} failed: ${errorText(err)}`)
      return { peerId: connection.remotePeer.toString(), opened: false, error: errorText(err) }
    }
  },

  /** `peer`, `name`, `text`: writes `name|text\n` on the stream stored for the peer; fails when none is. */
  async echoGoSend (args) {
    const key = peerArg(args).toString()
    const stored = echoGoStored.get(key)
    if (stored == null) throw new Error(`no echo-go stream stored for ${key}`)
    stored.stream.send(new TextEncoder().encode(`${args.name}|${args.text}\n`))
    return { direction: stored.direction }
  },

  /**
   * `peer`: the direction of the stream stored for it (null: none), the lines received from it,
   * and how often it was forgotten (rule 3) and its streams refused (rule 2).
   */
  async echoGoState (args) {
    const key = peerArg(args).toString()
    return {
      stored: echoGoStored.get(key)?.direction ?? null,
      lines: echoGoReceived.get(key) ?? [],
      forgotten: echoGoForgotten.get(key) ?? 0,
      refused: echoGoRefused.get(key) ?? 0
    }
  }
})

// ---------------------------------------------------------------------------------------------

write({ type: 'ready', peerId: node.peerId.toString(), addrs: node.getMultiaddrs().map(String) })
log(`ready: ${node.peerId} on ${node.getMultiaddrs().join(', ')}`)

const input = createInterface({ input: process.stdin, crlfDelay: Infinity })
input.on('line', (line) => {
  if (line.trim() === '' || stopping != null) return
  runCommand(line).catch((err) => log(`command failed: ${errorText(err)}`))
})
input.on('close', () => { shutdown(0) })
