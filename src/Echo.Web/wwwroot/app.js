// Echo's web page. Everything from the network is put on the page with textContent (never as
// HTML), so a message, nick, room or address is always shown as text.
'use strict';

(() => {
  const MAX_LINES_PER_ROOM = 2000;
  const byId = (id) => document.getElementById(id);
  const ui = {
    rooms: byId('rooms'), peers: byId('peers'), peerCount: byId('peer-count'), noPeers: byId('no-peers'),
    messages: byId('messages'), title: byId('room-title'), status: byId('status'), leave: byId('leave'),
    text: byId('text'), nick: byId('nick'), selfId: byId('self-id'), selfAddrs: byId('self-addrs'),
    joinForm: byId('join-form'), joinRoom: byId('join-room'), connectForm: byId('connect-form'),
    connectAddress: byId('connect-address'), nickForm: byId('nick-form'), sendForm: byId('send-form'),
    dms: byId('dms'), noDms: byId('no-dms'), downloads: byId('downloads'),
    notify: byId('notify'), confirmQuit: byId('confirm-quit'), quitYes: byId('quit-yes'), quitNo: byId('quit-no'),
    stopped: byId('stopped'), send: byId('send'), reachability: byId('reachability'), dht: byId('dht'),
  };

  // The chat as the page knows it; rebuilt from each snapshot. A conversation is a room ('#' + room)
  // or the direct messages with one peer ('@' + peer id): the server names it on every message, in
  // Core's order and each once, so the page only draws; it shows one at a time (state.view).
  const state = {
    peerId: '', addrs: [], nick: '', room: null, rooms: [], peers: new Map(), downloads: null, reachability: null, dht: null, relays: [],
    lines: new Map(),   // conversation -> { items: [line] }, as the server sent them
    unread: new Map(),  // conversation -> count
    mentions: new Map(), // conversation -> unread lines that mention the nick, or direct messages to us
    homeless: [],       // notices while in no room
    view: null,         // the conversation on screen: the current room's, or a direct one the user opened
    dmNicks: new Map(), // peer id -> the nick its direct messages carried
    files: new Map(),   // offer id -> what the page knows of the file and its download
    noOlder: new Set(), // rooms whose stored history has been shown to the start
    askedOlder: new Set(),
  };
  let socket = null;
  let retryDelay = 500;
  let ended = false;
  let stopped = false; // the node quit: the page says so and takes no more input
  const typed = [];
  let typedIndex = 0;

  // ---- helpers -----------------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // C0 controls and DEL become visible symbols; bidi controls are contained by unicode-bidi: isolate.
  function visible(text) {
    return String(text).replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g,
      (c) => String.fromCharCode(c === '\u007f' ? 0x2421 : 0x2400 + c.charCodeAt(0)));
  }

  function shortId(peerId) {
    return peerId.length <= 10 ? peerId : '…' + peerId.slice(-8);
  }

  function peerColor(peerId) {
    let hash = 0;
    for (let i = 0; i < peerId.length; i++) hash = (hash * 31 + peerId.charCodeAt(i)) >>> 0;
    return `hsl(${hash % 360} 70% 68%)`;
  }

  // Whether and where a text mentions a nick: the nick as a whole word in any case ("Alice:",
  // "@alice", "hi ALICE!"), the terminal's rule: no letter, digit, '_', '-' or combining mark
  // right before or after it.
  const WORD = /[\p{L}\p{Nd}_\-\p{Mn}\p{Mc}]/u;

  function isBoundary(text, index) {
    return index < 0 || index >= text.length || !WORD.test(text[index]);
  }

  function findMentions(text, nick) {
    const found = [];
    if (!nick || text.length < nick.length) return found;
    const upper = text.toUpperCase();
    const upperNick = nick.toUpperCase();
    // Upper-casing that keeps every length lets indexOf search; otherwise compare in place.
    const same = upper.length === text.length && upperNick.length === nick.length;
    const at = (from) => {
      if (same) return upper.indexOf(upperNick, from);
      for (let i = from; i + nick.length <= text.length; i++) {
        if (text.slice(i, i + nick.length).toUpperCase() === upperNick) return i;
      }
      return -1;
    };
    let index = at(0);
    while (index >= 0) {
      if (isBoundary(text, index - 1) && isBoundary(text, index + nick.length)) {
        found.push([index, nick.length]);
        index += nick.length;
      } else {
        index++;
      }
      index = index < text.length ? at(index) : -1;
    }
    return found;
  }

  const mentions = (text, nick) => findMentions(String(text), nick).length > 0;

  // The text of a line with the mentions of our nick marked (as text, in spans).
  function textWithMentions(text, highlight) {
    const span = el('span', 'text');
    const ranges = highlight ? findMentions(text, state.nick) : [];
    let from = 0;
    for (const [start, length] of ranges) {
      if (start > from) span.append(text.slice(from, start));
      span.append(el('span', 'mention', text.slice(start, start + length)));
      from = start + length;
    }
    if (from < text.length || ranges.length === 0) span.append(text.slice(from));
    return span;
  }

  function clock(date) {
    return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  }

  // Conversation keys as the server sends them (Core's ConversationId.Key).
  const roomKey = (room) => '#' + room;
  const dmKey = (peerId) => '@' + peerId;
  const isDm = (key) => typeof key === 'string' && key.startsWith('@');
  const peerOf = (key) => key.slice(1);

  function lines(key) {
    let entry = state.lines.get(key);
    if (!entry) {
      entry = { items: [] };
      state.lines.set(key, entry);
    }
    return entry;
  }

  function roomLines(room) {
    return lines(roomKey(room));
  }

  function peerNick(peerId) {
    const peer = state.peers.get(peerId);
    return (peer && peer.nick && label(peer.nick, peer.tag)) || state.dmNicks.get(peerId) || shortId(peerId);
  }

  // A nick another peer shares comes with a tag (the end of the peer id): shown as nick@tag.
  function label(nick, tag) {
    return tag ? `${nick}@${tag}` : nick;
  }

  function size(bytes) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let value = Number(bytes) || 0;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
  }

  function duration(seconds) {
    if (!isFinite(seconds) || seconds < 0) return '';
    if (seconds < 60) return `${Math.ceil(seconds)} s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
    return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
  }

  function push(entry, line) {
    entry.items.push(line);
    if (entry.items.length > MAX_LINES_PER_ROOM) entry.items.shift();
  }

  // History goes where Core put it: right after the message it follows there (`after`), or before
  // the first message when it is the oldest. Returns true when it went to the end.
  function place(entry, line, after) {
    const items = entry.items;
    let index = after ? items.findLastIndex((l) => l.id === after) + 1 : items.findIndex((l) => l.id);
    if (index <= 0 && after) index = items.length; // what it follows is no longer on the page
    if (index < 0) index = items.length;
    if (index >= items.length) {
      push(entry, line);
      return true;
    }
    items.splice(index, 0, line);
    if (items.length > MAX_LINES_PER_ROOM) items.shift();
    return false;
  }

  // ---- rendering ---------------------------------------------------------------------------

  function renderFile(item, body, file) {
    item.className = 'file ' + file.status;
    item.dataset.fileId = file.id;
    const head = el('div', 'file-head');
    const who = file.own ? 'you offer' : `${visible(file.nick || shortId(file.from || ''))} offers`;
    head.append(el('span', 'file-who', who + ' '), el('span', 'file-name', visible(file.name)), el('span', 'file-size', ' · ' + size(file.size)));
    body.append(head);
    const sha = el('div', 'file-sha', 'SHA-256 ' + file.sha256);
    body.append(sha);
    if (file.own) {
      body.append(el('div', 'file-state', file.to ? `offered to ${visible(peerNick(file.to))}` : `offered in #${visible(file.room || '')}`));
      return;
    }
    if (file.status === 'downloading') {
      const bar = el('progress', 'file-progress');
      bar.max = Math.max(1, file.size);
      bar.value = Math.min(file.bytes || 0, file.size);
      body.append(bar);
      const parts = [`${size(file.bytes || 0)} of ${size(file.size)}`];
      if (file.rate > 0) {
        parts.push(`${size(file.rate)}/s`);
        parts.push(duration((file.size - (file.bytes || 0)) / file.rate) + ' left');
      }
      body.append(el('div', 'file-state', parts.join(' · ')));
      const stop = el('button', 'file-cancel', 'Cancel');
      stop.type = 'button';
      stop.title = 'stop the download; the part received is kept and Try again resumes it';
      stop.addEventListener('click', () => { request({ type: 'cancel', id: file.id }); });
      body.append(stop);
    } else if (file.status === 'done') {
      body.append(el('div', 'file-state', 'verified and saved to ' + visible(file.path)));
    } else {
      if (file.status === 'error') body.append(el('div', 'file-state error', visible(file.message)));
      const get = el('button', 'file-get', file.status === 'error' ? 'Try again' : 'Download');
      get.type = 'button';
      get.title = 'download into ' + (state.downloads || 'the downloads folder') + ', checked against its SHA-256';
      get.addEventListener('click', () => {
        if (request({ type: 'get', id: file.id })) {
          file.status = 'downloading';
          file.bytes = file.bytes || 0;
          refreshFile(file.id);
        }
      });
      body.append(get);
    }
  }

  function renderLine(line) {
    const item = el('li');
    const when = el('time', null, clock(line.ts) + (line.clockClamped ? ' (clock)' : ''));
    when.dateTime = line.ts.toISOString();
    if (line.clockClamped) when.title = "the author's clock was off; this is when it arrived";
    item.append(when);
    const body = el('div', 'body');
    if (line.kind === 'older') {
      item.className = 'older';
      const more = el('button', 'older-button', state.askedOlder.has(line.room) ? 'Loading…' : 'Load older messages');
      more.type = 'button';
      more.addEventListener('click', () => askOlder(line.room));
      item.replaceChildren(more);
      return item;
    }
    if (line.kind === 'file') {
      const file = state.files.get(line.fileId);
      if (file) renderFile(item, body, file);
    } else if (line.kind === 'message' || line.kind === 'dm') {
      const self = line.kind === 'dm' ? line.outgoing : line.origin === 'self';
      item.className = 'msg' + (self ? ' self' : '') + (line.history ? ' history' : '') + (line.kind === 'dm' ? ' dm' : '');
      item.dataset.id = line.id;
      // A /me action reads "* nick waves".
      if (line.action) item.className += ' action';
      const nick = el('span', 'nick', (line.action ? '* ' : '') + visible(label(line.nick, line.tag)));
      nick.title = line.from;
      nick.style.setProperty('--peer', peerColor(line.from));
      body.append(nick);
      if (line.origin === 'echo-go') {
        const badge = el('span', 'badge', 'go');
        badge.title = 'an echo-go line: not signed, shown as the peer that sent it';
        body.append(badge, ' ');
      }
      const highlight = !self && mentions(line.text, state.nick);
      if (highlight) item.classList.add('mention');
      body.append(textWithMentions(visible(line.text), highlight));
      if (line.notSaved) {
        const unsaved = el('span', 'badge warn', 'not saved');
        unsaved.title = 'the history could not store this message: it will be gone after a restart';
        body.append(' ', unsaved);
      }
      if (line.kind === 'dm' && line.outgoing) {
        const tick = el('span', 'delivery', line.delivered ? '✓' : '…');
        tick.title = line.delivered ? 'delivered' : 'waiting for the peer (sent when it is back)';
        body.append(tick);
      }
    } else {
      item.className = 'sys ' + line.kind;
      body.append(el('span', 'text', visible(line.text)));
    }
    item.append(body);
    return item;
  }

  function nearBottom() {
    const m = ui.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 60;
  }

  function viewedRoom() {
    return state.view && state.view.startsWith('#') ? peerOf(state.view) : null;
  }

  function renderConversation(keepScroll) {
    const items = state.view ? lines(state.view).items : state.homeless;
    const nodes = items.map(renderLine);
    const room = viewedRoom();
    const hasMessages = items.some((l) => l.kind === 'message');
    if (room && hasMessages && !state.noOlder.has(room) && items.length < MAX_LINES_PER_ROOM) {
      nodes.unshift(renderLine({ kind: 'older', room, ts: new Date() }));
    }
    if (nodes.length === 0) {
      nodes.push(el('li', 'empty', isDm(state.view) ? `No direct messages with ${peerNick(peerOf(state.view))} yet.`
        : state.view ? 'No messages yet. Say hello!' : 'You are in no room: join one on the left.'));
    }
    const fromBottom = ui.messages.scrollHeight - ui.messages.scrollTop;
    ui.messages.replaceChildren(...nodes);
    ui.messages.scrollTop = keepScroll ? ui.messages.scrollHeight - fromBottom : ui.messages.scrollHeight;
  }

  function refreshFile(id) {
    for (const node of ui.messages.querySelectorAll('li.file')) {
      if (node.dataset.fileId === id) {
        const line = { kind: 'file', fileId: id, ts: new Date(node.querySelector('time').dateTime) };
        node.replaceWith(renderLine(line));
      }
    }
  }

  function askOlder(room) {
    if (state.askedOlder.has(room)) return;
    const oldest = roomLines(room).items.find((l) => l.kind === 'message');
    if (!oldest) return;
    if (request({ type: 'older', room, ts: oldest.ts.toISOString(), id: oldest.id })) {
      state.askedOlder.add(room);
      if (viewedRoom() === room) renderConversation(true);
    }
  }

  // A line for conversation `key`: shown at once when it is on screen, else counted as unread; while
  // the tab is hidden, what others write counts on screen too (in the tab's title), until it is seen.
  function addLine(key, line, unread) {
    push(lines(key), line);
    if (!tabVisible() && isMention(line)) notify(key, line);
    if (key === state.view) {
      appendToView(line);
      if (!tabVisible() && !ownLine(line)) countUnread(key, unread, line);
    } else {
      countUnread(key, unread, line);
    }
  }

  function ownLine(line) {
    return line.kind === 'dm' ? line.outgoing : line.kind === 'message' ? line.origin === 'self' : line.kind === 'file' && isOwnFile(line);
  }

  function isOwnFile(line) {
    const file = state.files.get(line.fileId);
    return !!(file && file.own);
  }

  // A mention: a line of someone else's that names us, or a direct message to us.
  function isMention(line) {
    if (!line || ownLine(line)) return false;
    if (line.kind === 'dm') return true;
    return line.kind === 'message' && mentions(line.text, state.nick);
  }

  function countUnread(key, unread, line) {
    if (unread) {
      state.unread.set(key, (state.unread.get(key) || 0) + 1);
      if (isMention(line)) state.mentions.set(key, (state.mentions.get(key) || 0) + 1);
      if (isDm(key)) renderDms(); else renderRooms();
    } else if (isDm(key)) {
      renderDms();
    }
    renderTabTitle();
  }

  function tabVisible() {
    return document.visibilityState === 'visible';
  }

  // Seen: the conversation on screen in a visible tab has nothing unread.
  function markSeen(key) {
    const had = state.unread.delete(key);
    return state.mentions.delete(key) || had;
  }

  function appendToView(line) {
    const stick = nearBottom();
    const empty = ui.messages.querySelector('.empty');
    if (empty) empty.remove();
    ui.messages.append(renderLine(line));
    while (ui.messages.children.length > MAX_LINES_PER_ROOM) ui.messages.firstChild.remove();
    if (stick) ui.messages.scrollTop = ui.messages.scrollHeight;
  }

  function renderRooms() {
    const nodes = state.rooms.map((room) => {
      const item = el('li', room === state.room ? 'room current' + (state.view === roomKey(room) ? ' viewed' : '') : 'room');
      item.dataset.room = room;
      const name = el('button', 'room-name', '#' + visible(room));
      name.type = 'button';
      name.title = 'switch to #' + room;
      name.addEventListener('click', () => {
        if (room === state.room) showView(roomKey(room));
        else request({ type: 'switch', room });
      });
      item.append(name);
      const unread = state.unread.get(roomKey(room)) || 0;
      if (unread > 0) item.append(el('span', 'unread', unread > 999 ? '999+' : unread));
      const leave = el('button', 'leave-room', '×');
      leave.type = 'button';
      leave.title = 'leave #' + room;
      leave.setAttribute('aria-label', 'leave #' + room);
      leave.addEventListener('click', () => request({ type: 'leave', room }));
      item.append(leave);
      return item;
    });
    ui.rooms.replaceChildren(...nodes);
    renderTitle();
  }

  function renderTitle() {
    if (isDm(state.view)) {
      const nick = peerNick(peerOf(state.view));
      ui.title.textContent = '@' + visible(nick);
      ui.title.title = peerOf(state.view);
      ui.leave.classList.add('hidden');
      ui.text.placeholder = `Direct message to ${nick} — only they see it`;
      renderTabTitle();
      return;
    }
    ui.title.title = '';
    ui.title.textContent = state.room ? '#' + visible(state.room) : 'no room';
    ui.leave.classList.toggle('hidden', !state.room);
    ui.text.placeholder = state.room ? `Message #${state.room} — /help lists the commands` : '/join <room> to start';
    renderTabTitle();
  }

  // The tab's title: "(unread) " in front, "(unread, mentions!) " when some mention us or are direct
  // messages to us, then where the page is.
  function renderTabTitle() {
    let unread = 0;
    let mentioned = 0;
    for (const count of state.unread.values()) unread += count;
    for (const count of state.mentions.values()) mentioned += count;
    const counts = unread === 0 ? '' : mentioned === 0 ? `(${unread}) ` : `(${unread}, ${mentioned}!) `;
    const where = stopped ? 'stopped · '
      : isDm(state.view) ? '@' + peerNick(peerOf(state.view)) + ' · '
        : state.room ? '#' + state.room + ' · ' : '';
    document.title = counts + where + 'Echo';
  }

  function renderDms() {
    const peers = [...state.lines.keys()].filter(isDm).map(peerOf);
    const nodes = peers.map((peerId) => {
      const key = dmKey(peerId);
      const item = el('li', 'dm' + (state.view === key ? ' current viewed' : ''));
      item.dataset.peerId = peerId;
      const name = el('button', 'room-name', '@' + visible(peerNick(peerId)));
      name.type = 'button';
      name.title = 'direct messages with ' + peerId;
      name.addEventListener('click', () => showView(key));
      item.append(name);
      const unread = state.unread.get(key) || 0;
      if (unread > 0) item.append(el('span', 'unread', unread > 999 ? '999+' : unread));
      return item;
    });
    ui.dms.replaceChildren(...nodes);
    ui.noDms.classList.toggle('hidden', nodes.length > 0);
  }

  // Puts a conversation on screen (the page's own choice; typed text follows it).
  function showView(key) {
    state.view = key;
    markSeen(key);
    if (isDm(key)) lines(key);
    renderRooms();
    renderDms();
    renderConversation();
    ui.text.focus();
  }

  // A remembered peer that is away: when it is dialed next, counted down while the page is open.
  function reconnectText(at) {
    const seconds = Math.max(0, Math.ceil((Date.parse(at) - Date.now()) / 1000));
    return `reconnecting in ${seconds}s`;
  }

  setInterval(() => {
    if ([...state.peers.values()].some((p) => p.reconnectAt)) renderPeers();
  }, 1000);

  function renderPeers() {
    const peers = [...state.peers.values()];
    const nodes = peers.map((peer) => {
      const item = el('li', 'peer');
      item.dataset.peerId = peer.peerId;
      item.title = `${peer.peerId}\n${peer.address}\nfound: ${peer.source}`;
      const dot = el('span', 'dot');
      dot.style.setProperty('--peer', peerColor(peer.peerId));
      const nick = el('span', 'nick', visible(peer.nick ? label(peer.nick, peer.tag) : '?'));
      if (peer.echoGo) nick.append(el('span', 'badge', 'go'));
      if (peer.awayMessage) {
        nick.append(el('span', 'badge', 'away'));
        item.title += '\naway: ' + visible(peer.awayMessage);
      }
      const rtt = el('span', 'rtt', peer.reconnectAt ? reconnectText(peer.reconnectAt)
        : typeof peer.rttMs === 'number' ? peer.rttMs.toFixed(1) + ' ms' : '');
      // How it is reached: through a relay (text only) or directly.
      const via = peer.via === 'relay' ? ' · via relay' : peer.via === 'direct' ? ' · direct' : '';
      if (peer.via) item.title += '\nreached: ' + (peer.via === 'relay' ? 'via relay (text only)' : 'direct');
      if (peer.relayReason) item.title += '\nrelayed because: ' + visible(peer.relayReason);
      item.append(dot, nick, rtt, el('span', 'short', shortId(visible(peer.peerId)) + ' · ' + peer.source + via));
      item.tabIndex = 0;
      item.title += '\nclick for direct messages';
      item.addEventListener('click', () => showView(dmKey(peer.peerId)));
      item.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') showView(dmKey(peer.peerId));
      });
      return item;
    });
    ui.peers.replaceChildren(...nodes);
    ui.peerCount.textContent = String(peers.length);
    ui.noPeers.classList.toggle('hidden', peers.length > 0);
  }

  function renderSelf() {
    if (document.activeElement !== ui.nick) ui.nick.value = state.nick;
    ui.selfId.textContent = state.peerId;
    ui.selfId.title = state.peerId;
    ui.selfAddrs.replaceChildren(...state.addrs.map((a) => {
      const item = el('li', null, a);
      item.title = a;
      return item;
    }));
    ui.downloads.textContent = state.downloads ? 'downloads: ' + visible(state.downloads) : '';
    renderReachability();
    renderDht();
  }

  // Shown only when the node checks its reachability (the public-network stack is on).
  function renderReachability() {
    const r = state.reachability;
    const relays = state.relays.length ? 'relays: ' + state.relays.map((a) => shortId(visible(a.includes('/p2p/') ? a.slice(a.lastIndexOf('/p2p/') + 5) : a))).join(' ')
      : r && r.status === 'private' ? 'no relay' : '';
    ui.reachability.textContent = (r ? 'reachability: ' + r.status + (r.addrs.length ? ' (' + r.addrs.join(', ') + ')' : '') : '')
      + (relays ? (r ? ' · ' : '') + relays : '');
    ui.reachability.title = ui.reachability.textContent;
  }

  // Shown only when the node runs the DHT: peers known, peers found through it, whether the current room was.
  function renderDht() {
    const d = state.dht;
    const found = d && state.room && d.roomsFound.includes(state.room);
    ui.dht.textContent = d ? `DHT (${d.mode}): ${d.routingTable} peers known, ${d.peersFound} found` +
      (found ? ` · #${state.room} found through the DHT` : '') : '';
    ui.dht.title = ui.dht.textContent;
  }

  function setStatus(kind, text) {
    ui.status.className = 'status ' + kind;
    ui.status.textContent = text;
  }

  // ---- events from the chat ----------------------------------------------------------------

  function messageLine(ev) {
    return {
      kind: 'message', id: ev.id, room: ev.room, from: ev.from, nick: ev.nick, tag: ev.tag, text: ev.text, origin: ev.origin,
      history: ev.history === true, notSaved: ev.notSaved === true, ts: new Date(ev.ts), clockClamped: ev.clockClamped === true,
      action: ev.action === true,
    };
  }

  function addMessage(ev) {
    const key = ev.conversation || roomKey(ev.room);
    const line = messageLine(ev);
    if (!line.history) {
      addLine(key, line, state.rooms.includes(ev.room));
    } else if (place(lines(key), line, ev.after || null)) {
      if (key === state.view) appendToView(line);
      else countUnread(key, state.rooms.includes(ev.room), line);
    } else if (key === state.view) {
      renderConversation(true);
    } else {
      countUnread(key, state.rooms.includes(ev.room), line);
    }
  }

  // Direct messages: 'dm' from a peer, 'dm-sent' ours (in the outbox until acknowledged).
  function dmLine(ev) {
    const outgoing = ev.type === 'dm-sent';
    return {
      kind: 'dm', id: ev.id, peer: outgoing ? ev.to : ev.from, from: outgoing ? state.peerId : ev.from, nick: ev.nick,
      text: ev.text, outgoing, delivered: ev.delivered === true, notSaved: ev.notSaved === true, ts: new Date(ev.ts),
      action: ev.action === true,
    };
  }

  function addDm(ev, live) {
    const line = dmLine(ev);
    if (typeof line.peer !== 'string') return;
    if (!line.outgoing) state.dmNicks.set(line.peer, ev.nick);
    const key = ev.conversation || dmKey(line.peer);
    if (live) addLine(key, line, true);
    else push(lines(key), line);
  }

  function markDelivered(ev) {
    const key = ev.conversation || dmKey(ev.to);
    const entry = state.lines.get(key);
    const line = entry && entry.items.find((l) => l.kind === 'dm' && l.id === ev.id);
    if (!line) return;
    line.delivered = true;
    if (state.view === key) renderConversation(true);
  }

  function fileKey(file) {
    if (file.conversation) return file.conversation;
    if (file.room) return roomKey(file.room);
    return dmKey(file.own ? file.to : file.from);
  }

  function addFile(ev, live) {
    if (state.files.has(ev.id)) return;
    const own = ev.type === 'file-offered';
    const file = {
      id: ev.id, name: ev.name, size: ev.size, sha256: ev.sha256, from: ev.from, nick: ev.nick, room: ev.room, to: ev.to, own,
      conversation: ev.conversation,
      status: ev.path ? 'done' : ev.downloading ? 'downloading' : 'offered', bytes: 0, rate: 0, path: ev.path, message: '',
    };
    if (!file.room && typeof (own ? file.to : file.from) !== 'string') return;
    if (!own && file.nick && !file.room) state.dmNicks.set(file.from, file.nick);
    state.files.set(file.id, file);
    const line = { kind: 'file', fileId: file.id, ts: ev.ts ? new Date(ev.ts) : new Date() };
    if (live) addLine(fileKey(file), line, !own);
    else push(lines(fileKey(file)), line);
  }

  function updateFile(id, change) {
    const file = state.files.get(id);
    if (!file) return false;
    Object.assign(file, change);
    refreshFile(id);
    return true;
  }

  function addOlder(ev) {
    state.askedOlder.delete(ev.room);
    if (!ev.more) state.noOlder.add(ev.room);
    const entry = roomLines(ev.room);
    const older = (ev.messages || []).map(messageLine); // all older than the page's oldest, as asked
    const total = entry.items.length + older.length;
    if (total >= MAX_LINES_PER_ROOM) state.noOlder.add(ev.room); // the page keeps no more than this
    entry.items.unshift(...older.slice(Math.max(0, total - MAX_LINES_PER_ROOM)));
    if (viewedRoom() === ev.room) renderConversation(true);
  }

  // Notices and errors go where the user is looking.
  function addSystem(kind, text) {
    const line = { kind, text, ts: new Date() };
    push(state.view ? lines(state.view) : { items: state.homeless }, line);
    appendToView(line);
  }

  function applySnapshot(ev) {
    state.peerId = ev.peerId;
    state.addrs = ev.addrs || [];
    state.nick = ev.nick;
    state.room = ev.room || null;
    state.rooms = ev.rooms || [];
    state.peers = new Map((ev.peers || []).map((p) => [p.peerId, p]));
    state.downloads = ev.downloads || null;
    state.reachability = ev.reachability || null;
    state.dht = ev.dht || null;
    state.relays = ev.relays || [];
    state.lines = new Map();
    state.files = new Map();
    state.noOlder = new Set();
    state.askedOlder = new Set();
    for (const m of ev.messages || []) push(lines(m.conversation || roomKey(m.room)), messageLine(m));
    for (const d of ev.dms || []) addDm(d, false);
    for (const f of ev.files || []) addFile(f, false);
    // Stay in a direct conversation across a reconnect; otherwise show the current room.
    if (!isDm(state.view)) state.view = state.room ? roomKey(state.room) : null;
    renderSelf();
    renderRooms();
    renderDms();
    renderPeers();
    renderConversation();
  }

  function apply(ev) {
    switch (ev.type) {
      case 'snapshot':
        applySnapshot(ev);
        break;
      case 'message':
        addMessage(ev);
        break;
      case 'older':
        addOlder(ev);
        break;
      case 'dm':
      case 'dm-sent':
        addDm(ev, true);
        break;
      case 'dm-ack':
        markDelivered(ev);
        break;
      case 'file-offer':
      case 'file-offered':
        addFile(ev, true);
        break;
      case 'file-progress':
        updateFile(ev.id, { status: 'downloading', bytes: ev.bytes, size: ev.size, rate: ev.rate });
        break;
      case 'file-resume':
        updateFile(ev.id, { status: 'downloading', bytes: ev.offset, size: ev.size });
        break;
      case 'file-done':
        updateFile(ev.id, { status: 'done', path: ev.path, bytes: 0, rate: 0 });
        break;
      case 'file-error':
        if (!updateFile(ev.id, { status: 'error', message: ev.message })) addSystem('error', ev.message);
        break;
      case 'relays':
        state.relays = ev.relays;
        renderReachability();
        break;
      case 'reachability':
        state.reachability = ev;
        renderReachability();
        break;
      case 'dht':
        state.dht = ev;
        renderDht();
        break;
      case 'peer':
        if (ev.event === 'disconnected') {
          if (state.peers.delete(ev.peerId)) addSystem('notice', `${ev.nick || 'peer'} ${shortId(ev.peerId)} disconnected`);
        } else {
          if (ev.event === 'connected') addSystem('notice', `${ev.nick || 'peer'} ${shortId(ev.peerId)} connected (${ev.address})`);
          state.peers.set(ev.peerId, ev);
        }
        renderPeers();
        renderDms();
        if (isDm(state.view)) renderTitle();
        break;
      case 'joined':
        if (!state.rooms.includes(ev.room)) state.rooms.push(ev.room);
        push(roomLines(ev.room), { kind: 'notice', text: `joined #${ev.room}`, ts: new Date() });
        renderRooms();
        break;
      case 'left':
        state.rooms = state.rooms.filter((r) => r !== ev.room);
        state.lines.delete(roomKey(ev.room));
        state.unread.delete(roomKey(ev.room));
        state.mentions.delete(roomKey(ev.room));
        if (state.room === ev.room) state.room = null;
        if (state.view === roomKey(ev.room)) {
          state.view = null;
          renderConversation();
        }
        renderRooms();
        addSystem('notice', `left #${ev.room}`);
        break;
      case 'rooms': // a new order (/move here or in the terminal); the rooms are the same
        state.rooms = (ev.rooms || []).filter((r) => state.rooms.includes(r))
          .concat(state.rooms.filter((r) => !(ev.rooms || []).includes(r)));
        renderRooms();
        break;
      case 'current':
        state.room = ev.room;
        showView(roomKey(ev.room));
        renderDht();
        break;
      case 'nick':
        state.nick = ev.nick;
        renderSelf();
        addSystem('notice', `you are now ${ev.nick}`);
        break;
      case 'notice':
        addSystem('notice', ev.text);
        break;
      case 'error':
        addSystem('error', ev.message);
        break;
      case 'quit':
        nodeStopped();
        break;
      default:
        break; // a kind of event this page does not know yet
    }
  }

  // ---- the WebSocket -----------------------------------------------------------------------

  function request(body) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(body));
      return true;
    }
    addSystem('error', 'not connected to the node; your request was not sent');
    return false;
  }

  function connect() {
    setStatus('connecting', 'connecting…');
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    socket = ws;
    let opened = false;
    ws.addEventListener('open', () => {
      opened = true;
      retryDelay = 500;
      setStatus('online', 'connected');
    });
    ws.addEventListener('message', (e) => {
      let ev;
      try {
        ev = JSON.parse(e.data);
      } catch {
        return;
      }
      if (ev && typeof ev.type === 'string') apply(ev);
    });
    ws.addEventListener('close', async (e) => {
      if (socket !== ws) return;
      socket = null;
      if (ended) return;
      if (e.reason === 'the node quit') {
        // The node quit (from here, the terminal or another page) and its quit event was not read.
        nodeStopped();
        return;
      }
      if (!opened) {
        // Refused: a session the node no longer knows (it restarted), or the node is gone.
        try {
          const answer = await fetch('/api/state', { cache: 'no-store' });
          if (answer.status === 401) {
            ended = true;
            setStatus('offline', 'signed out: open the URL echo-chat printed');
            return;
          }
        } catch {
          // the node is not answering; try again below
        }
      }
      setStatus('offline', 'disconnected, retrying…');
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    });
  }

  // ---- notifications -----------------------------------------------------------------------

  // Browser notifications for mentions and direct messages while the tab is hidden: off until the
  // user turns them on with the button (the browser's permission is asked for only then).
  const NOTIFY_SETTING = 'echo.notify';
  const canNotify = () => 'Notification' in window;
  const notifying = () => canNotify() && Notification.permission === 'granted' && readSetting(NOTIFY_SETTING) === 'on';

  function readSetting(name) {
    try {
      return localStorage.getItem(name);
    } catch {
      return null;
    }
  }

  function writeSetting(name, value) {
    try {
      localStorage.setItem(name, value);
    } catch {
      // a browser that keeps nothing: the setting lasts as long as the page
    }
  }

  function renderNotify() {
    ui.notify.classList.toggle('hidden', !canNotify());
    const on = notifying();
    ui.notify.textContent = on ? 'Notifications on' : 'Notifications off';
    ui.notify.setAttribute('aria-pressed', String(on));
    ui.notify.title = on ? 'mentions and direct messages show a notification while this tab is hidden; click to stop'
      : 'click to be notified of mentions and direct messages while this tab is hidden';
  }

  ui.notify.addEventListener('click', async () => {
    if (!canNotify()) return;
    if (notifying()) {
      writeSetting(NOTIFY_SETTING, 'off');
    } else {
      let permission = Notification.permission;
      if (permission === 'default') permission = await Notification.requestPermission();
      if (permission === 'granted') writeSetting(NOTIFY_SETTING, 'on');
      else addSystem('notice', 'the browser does not allow notifications for this page (see its site settings)');
    }
    renderNotify();
  });

  function clip(text, max) {
    return text.length <= max ? text : text.slice(0, max - 1) + '…';
  }

  function notify(key, line) {
    if (!notifying()) return;
    const who = line.kind === 'dm' ? peerNick(line.peer) : label(line.nick, line.tag);
    const where = isDm(key) ? 'direct message' : key;
    // Plain text only (the API takes no HTML); control characters shown as symbols, as on the page.
    const shown = new Notification(clip(visible(`${who} · ${where}`), 120), { body: clip(visible(line.text), 300), tag: key });
    shown.addEventListener('click', () => {
      window.focus();
      openConversation(key);
      shown.close();
    });
  }

  function openConversation(key) {
    if (stopped) return;
    const room = isDm(key) ? null : peerOf(key);
    if (room === null || room === state.room) showView(key);
    else if (state.rooms.includes(room)) request({ type: 'switch', room });
  }

  // Back in the tab: what is on screen has been seen.
  document.addEventListener('visibilitychange', () => {
    if (!tabVisible() || !state.view) return;
    if (markSeen(state.view)) {
      if (isDm(state.view)) renderDms(); else renderRooms();
    }
    renderTabTitle();
  });

  // ---- stopping the node -------------------------------------------------------------------

  // Whether a typed line is /quit (or /exit), as the chat parses it.
  function isQuit(text) {
    const trimmed = text.trim();
    if (!trimmed.startsWith('/') || trimmed.startsWith('//')) return false;
    const space = trimmed.indexOf(' ');
    const name = (space < 0 ? trimmed.slice(1) : trimmed.slice(1, space)).toLowerCase();
    return name === 'quit' || name === 'exit';
  }

  let quitLine = null;

  function askQuit(text) {
    quitLine = text;
    ui.confirmQuit.classList.remove('hidden');
    ui.quitNo.focus();
  }

  function closeQuit() {
    quitLine = null;
    ui.confirmQuit.classList.add('hidden');
  }

  ui.quitNo.addEventListener('click', () => {
    closeQuit();
    ui.text.value = '';
    ui.text.focus();
  });

  ui.quitYes.addEventListener('click', () => {
    const text = quitLine;
    closeQuit();
    if (text !== null && request({ type: 'line', text })) ui.text.value = '';
  });

  ui.confirmQuit.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') ui.quitNo.click();
  });

  // The node has stopped: no more input, and the page says so.
  function nodeStopped() {
    ended = true;
    stopped = true;
    closeQuit();
    setStatus('offline', 'the node has stopped');
    for (const control of document.querySelectorAll('form input, form button, #leave, .leave-room, .file-get, .file-cancel')) {
      control.disabled = true;
    }
    ui.text.placeholder = 'the chat node has stopped';
    ui.stopped.classList.remove('hidden');
    renderTabTitle();
  }

  // ---- input -------------------------------------------------------------------------------

  ui.sendForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = ui.text.value;
    if (text.trim() === '' || stopped) return;
    if (isQuit(text)) {
      askQuit(text);
      return;
    }
    if (text.trim().toLowerCase() === '/clear') {
      // Clears this page's view of the conversation only; the chat and its history keep everything.
      (state.view ? lines(state.view) : { items: state.homeless }).items.length = 0;
      ui.text.value = '';
      renderConversation(false);
      return;
    }
    // What was typed, and where: in a direct conversation the chat sends text to that peer.
    const body = state.view ? { type: 'line', text, conversation: state.view } : { type: 'line', text };
    if (request(body)) {
      typed.push(text);
      if (typed.length > 200) typed.shift();
      typedIndex = typed.length;
      ui.text.value = '';
    }
  });

  // Up and Down recall what was typed, as in the terminal.
  ui.text.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowUp' && typedIndex > 0) {
      typedIndex--;
      ui.text.value = typed[typedIndex];
      e.preventDefault();
    } else if (e.key === 'ArrowDown' && typedIndex < typed.length) {
      typedIndex++;
      ui.text.value = typedIndex < typed.length ? typed[typedIndex] : '';
      e.preventDefault();
    }
  });

  ui.joinForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const room = ui.joinRoom.value.trim().replace(/^#/, '');
    if (room && request({ type: 'join', room })) ui.joinRoom.value = '';
  });

  ui.connectForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const address = ui.connectAddress.value.trim();
    if (address && request({ type: 'connect', address })) {
      ui.connectAddress.value = '';
      addSystem('notice', `connecting to ${address}…`);
    }
  });

  ui.nickForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const nick = ui.nick.value.trim();
    if (nick && nick !== state.nick) request({ type: 'nick', nick });
    ui.nick.blur();
  });

  ui.leave.addEventListener('click', () => {
    if (state.room) request({ type: 'leave', room: state.room });
  });

  renderNotify();
  connect();
  ui.text.focus();
})();
