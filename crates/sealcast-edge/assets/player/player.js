// Sealcast web player: plays Sealcast's encrypted HLS in the browser with hls.js, fetching
// every content key through the envelope exchange (docs/key-delivery.md): the page makes a
// P-256 key pair, POSTs its public key to the key URI and opens the answer with HPKE
// (RFC 9180: DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base mode) in WebCrypto.
// The content key never crosses the network in the clear; the private key never leaves the
// page. Works for `envelope` and `aes-128` streams. WebCrypto needs a secure context: HTTPS,
// or plain HTTP from localhost.
'use strict';

(function () {
  const text = new TextEncoder();
  const video = document.getElementById('video');
  const statusLine = document.getElementById('status');
  const form = document.getElementById('form');
  const input = document.getElementById('src');

  // What tests and embedding pages can read.
  const state = (window.sealcastPlayer = { state: 'idle', keys: 0, errors: [], src: null, expiry: null });

  function show(message, isError) {
    statusLine.textContent = message;
    statusLine.className = isError ? 'error' : '';
    if (isError) {
      state.errors.push(message);
      state.state = 'error';
    }
  }

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  function i2osp(n, width) {
    const out = new Uint8Array(width);
    for (let i = width - 1; i >= 0; i--) {
      out[i] = n & 0xff;
      n >>= 8;
    }
    return out;
  }

  function base64urlEncode(bytes) {
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function base64urlDecode(value) {
    const b64 = value.replace(/-/g, '+').replace(/_/g, '/');
    const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }

  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

  // HKDF-SHA256 from WebCrypto HMAC. An empty salt is HashLen zero bytes (RFC 5869), which
  // HMAC treats exactly as the empty key WebCrypto refuses to import.
  async function hmac(key, data) {
    const k = await crypto.subtle.importKey(
      'raw', key.length ? key : new Uint8Array(32), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    return new Uint8Array(await crypto.subtle.sign('HMAC', k, data));
  }

  async function expand(prk, info, length) {
    let t = new Uint8Array(0);
    let out = new Uint8Array(0);
    for (let i = 1; out.length < length; i++) {
      t = await hmac(prk, concat(t, info, Uint8Array.of(i)));
      out = concat(out, t);
    }
    return out.slice(0, length);
  }

  const HPKE_V1 = text.encode('HPKE-v1');
  const EMPTY = new Uint8Array(0);
  const KEM_SUITE = concat(text.encode('KEM'), i2osp(0x0010, 2));
  const HPKE_SUITE = concat(text.encode('HPKE'), i2osp(0x0010, 2), i2osp(0x0001, 2), i2osp(0x0001, 2));
  const labeledExtract = (suite, salt, label, ikm) => hmac(salt, concat(HPKE_V1, suite, text.encode(label), ikm));
  const labeledExpand = (suite, prk, label, info, length) =>
    expand(prk, concat(i2osp(length, 2), HPKE_V1, suite, text.encode(label), info), length);

  // HPKE base-mode single-shot Open (RFC 9180 sections 4.1 and 5.1).
  async function hpkeOpen(recipient, recipientPublic, encapsulated, sealed, info) {
    const pkE = await crypto.subtle.importKey('raw', encapsulated, { name: 'ECDH', namedCurve: 'P-256' }, false, []);
    const dh = new Uint8Array(await crypto.subtle.deriveBits({ name: 'ECDH', public: pkE }, recipient.privateKey, 256));
    const eaePrk = await labeledExtract(KEM_SUITE, EMPTY, 'eae_prk', dh);
    const shared = await labeledExpand(KEM_SUITE, eaePrk, 'shared_secret', concat(encapsulated, recipientPublic), 32);
    const pskIdHash = await labeledExtract(HPKE_SUITE, EMPTY, 'psk_id_hash', EMPTY);
    const infoHash = await labeledExtract(HPKE_SUITE, EMPTY, 'info_hash', info);
    const context = concat(Uint8Array.of(0), pskIdHash, infoHash);
    const secret = await labeledExtract(HPKE_SUITE, shared, 'secret', EMPTY);
    const key = await labeledExpand(HPKE_SUITE, secret, 'key', context, 16);
    const nonce = await labeledExpand(HPKE_SUITE, secret, 'base_nonce', context, 12);
    const aead = await crypto.subtle.importKey('raw', key, 'AES-GCM', false, ['decrypt']);
    return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: nonce }, aead, sealed));
  }

  // One key pair per page: the private key is not extractable.
  let session = null;
  async function keyPair() {
    if (!session) {
      const pair = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
      const publicRaw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
      session = { pair, publicRaw };
    }
    return session;
  }

  // The envelope exchange for one key URI (docs/key-delivery.md, "The envelope exchange").
  async function fetchContentKey(keyUri, signal) {
    const url = new URL(keyUri, location.href);
    const domain = url.searchParams.get('d');
    const ct = url.searchParams.get('ct');
    const segments = url.pathname.split('/');
    if (!domain || !ct || segments.length < 4 || segments[segments.length - 1] !== 'key') {
      throw new Error(`${url.pathname} is not a Sealcast key URI`);
    }
    const [app, stream] = segments.slice(-3, -1);
    const { pair, publicRaw } = await keyPair();
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pk: base64urlEncode(publicRaw) }),
      cache: 'no-store',
      signal,
    });
    if (!response.ok) {
      throw new Error(`key request answered ${response.status}: ${(await response.text()).trim()}`);
    }
    const answer = await response.json();
    const kid = hex(new Uint8Array(await crypto.subtle.digest('SHA-256', base64urlDecode(ct)))).slice(0, 32);
    if (answer.kid !== kid) throw new Error('the key answer is for another key');
    if (!(answer.exp * 1000 > Date.now())) throw new Error('the key answer has expired');
    const zero = Uint8Array.of(0);
    const info = concat(
      text.encode('sealcast-envelope-v1'), zero, text.encode(domain), zero, text.encode(app), zero,
      text.encode(stream), zero, text.encode(kid), zero, text.encode(String(answer.exp)));
    const key = await hpkeOpen(pair, publicRaw, base64urlDecode(answer.enc), base64urlDecode(answer.key), info);
    if (key.length !== 16) throw new Error('the opened content key is not 16 bytes');
    // hls.js keeps keys for as long as their URI is listed: the page restarts playback (and
    // so asks again) before the earliest answer expires.
    if (!state.expiry || answer.exp < state.expiry) state.expiry = answer.exp;
    return key;
  }

  const ENVELOPE_KEYFORMAT = /,KEYFORMAT="com\.sealcast\.envelope"(,KEYFORMATVERSIONS="[^"]*")?/g;

  // hls.js loader: keys through the exchange above, everything else through hls.js's own.
  function loaderClass(Default) {
    return class SealcastLoader {
      constructor(config) {
        this.inner = new Default(config);
        this.stats = this.inner.stats;
        this.context = null;
        this.pending = null;
      }

      load(context, config, callbacks) {
        this.context = context;
        if (context.type === 'manifest' || context.type === 'level') {
          // hls.js forgets loaded keys of any KEYFORMAT but "identity" (it rebuilds their
          // decryption data on every access). Every key here goes through the exchange anyway,
          // so present Sealcast's envelope keys as identity keys.
          const onSuccess = callbacks.onSuccess;
          callbacks = Object.assign({}, callbacks, {
            onSuccess(response, stats, ctx, details) {
              if (typeof response.data === 'string') {
                response.data = response.data.replace(ENVELOPE_KEYFORMAT, '');
              }
              onSuccess(response, stats, ctx, details);
            },
          });
        }
        if (context.type !== 'key') {
          this.inner.load(context, config, callbacks);
          this.stats = this.inner.stats;
          return;
        }
        const stats = this.stats;
        stats.aborted = false;
        stats.loading.start = performance.now();
        const controller = new AbortController();
        let settled = false;
        const settle = () => {
          const first = !settled;
          settled = true;
          clearTimeout(timer);
          this.pending = null;
          return first;
        };
        const timeoutMs = config && config.timeout ? config.timeout : 20000;
        const timer = setTimeout(() => {
          if (!settle()) return;
          controller.abort();
          callbacks.onTimeout(stats, context, null);
        }, timeoutMs);
        this.pending = () => {
          if (!settle()) return;
          controller.abort();
          stats.aborted = true;
          if (callbacks.onAbort) callbacks.onAbort(stats, context, null);
        };
        fetchContentKey(context.url, controller.signal).then(
          (key) => {
            if (!settle()) return;
            stats.loading.first = stats.loading.end = performance.now();
            stats.loaded = stats.total = key.length;
            state.keys += 1;
            callbacks.onSuccess({ url: context.url, data: key.buffer }, stats, context, null);
          },
          (error) => {
            if (!settle()) return;
            // hls.js retries what it can; the fatal-error handler reports what it cannot.
            console.warn(`sealcast: ${error.message || error}`);
            callbacks.onError({ code: 0, text: String(error.message || error) }, context, null, stats);
          });
      }

      abort() {
        if (this.pending) this.pending();
        this.inner.abort();
      }

      destroy() {
        if (this.pending) this.pending();
        this.inner.destroy();
      }

      getCacheAge() {
        return this.inner.getCacheAge ? this.inner.getCacheAge() : null;
      }

      getResponseHeader(name) {
        return this.inner.getResponseHeader ? this.inner.getResponseHeader(name) : null;
      }
    };
  }

  let hls = null;
  function play(src) {
    if (hls) hls.destroy();
    state.expiry = null;
    state.src = src;
    state.state = 'loading';
    state.errors = [];
    if (!window.isSecureContext || !crypto.subtle) {
      show('This page needs HTTPS (or localhost): keys are opened with WebCrypto.', true);
      return;
    }
    if (!window.Hls || !Hls.isSupported()) {
      show('This browser cannot play HLS through Media Source Extensions.', true);
      return;
    }
    const debug = new URLSearchParams(location.search).get('debug') === '1';
    hls = new Hls({ loader: loaderClass(Hls.DefaultConfig.loader), enableWorker: true, lowLatencyMode: false, debug });
    hls.on(Hls.Events.ERROR, (_, data) => {
      if (data.fatal) show(`playback failed: ${data.details}${data.error ? ': ' + data.error.message : ''}`, true);
    });
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      state.state = 'playing';
      show(`playing ${src}`);
      video.play().catch(() => show('press play to start', false));
    });
    hls.loadSource(new URL(src, location.href).href);
    hls.attachMedia(video);
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const src = input.value.trim();
    if (src) {
      history.replaceState(null, '', `?src=${encodeURIComponent(src)}`);
      play(src);
    }
  });

  // Keys are good until their answer's `exp` (the credential's expiry, or an hour): restart
  // just before, so hls.js asks for them again; an expired credential then shows why.
  setInterval(() => {
    if (state.src && state.expiry && Date.now() >= state.expiry * 1000 - 10000) {
      console.info('sealcast: keys about to expire; restarting playback');
      play(state.src);
    }
  }, 5000);

  const initial = new URLSearchParams(location.search).get('src');
  if (initial) {
    input.value = initial;
    play(initial);
  }
})();
