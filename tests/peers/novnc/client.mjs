// A headless noVNC: the real core/rfb.js of @novnc/novnc, run in Node with jsdom for the DOM, a
// small 2D-canvas stand-in over RGBA buffers for the drawing, and a plain TCP socket dressed as a
// WebSocket-like "raw channel" (noVNC's Websock.attach accepts any object with send/close/
// binaryType/onopen/onmessage/onerror/protocol/readyState), so no websockify is needed.
//
// Driven by JSON lines on stdin, one command each ({"cmd": ..., "id": optional}):
//   connect     {host, port, password?, username?, shared?, encodings?, quality?, compression?,
//                pseudo?}   encodings/pseudo: lists of names replacing noVNC's own choice;
//                           quality/compression: 0..9, or null to leave the pseudo-encoding out
//   credentials {password, username?}      answer a "credentialsrequired" event
//   key         {keysym, down?, code?}     down omitted: press and release
//   type        {text}                     press+release per character (noVNC's keysym table)
//   pointer     {x, y, mask}
//   paste       {text}                     noVNC's clipboardPasteFrom
//   capture     {path}                     writes the framebuffer as RGBA bytes to path
//   encodings   {}                         reports the SetEncodings list sent
//   disconnect  {}
//   quit        {}
// Every command is answered by {"event": "ok", "id", ...} or {"event": "error", "id", "message"}.
// Unprompted events: connected, disconnected {clean, reason}, securityfailure {status, reason},
// credentialsrequired {types}, bell, clipboard {text}, desktopname {name}, resize {width,
// height}, update {n}, capabilities, log {level, message} (noVNC errors), fatal {message}.
// noVNC's own console output goes to stderr; stdout carries only these JSON lines.

import fs from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';
import { JSDOM, VirtualConsole } from 'jsdom';

function emit(obj) {
    process.stdout.write(JSON.stringify(obj) + '\n');
}

let lastError = null;
const virtualConsole = new VirtualConsole();
for (const level of ['log', 'info', 'debug', 'warn', 'error']) {
    virtualConsole.on(level, (...args) => {
        const message = args.map(String).join(' ');
        process.stderr.write(`novnc ${level}: ${message}\n`);
        if (level === 'error') {
            lastError = message;
            emit({ event: 'log', level, message });
        }
    });
}
virtualConsole.on('jsdomError', (e) => process.stderr.write(`jsdom: ${e.stack || e}\n`));

const dom = new JSDOM('<!DOCTYPE html><html><head></head><body></body></html>', {
    url: 'https://localhost/',
    pretendToBeVisual: true,  // requestAnimationFrame
    virtualConsole,
});
const { window } = dom;

// ---- a 2D canvas over an RGBA buffer -------------------------------------------------------

class ImageDataStub {
    constructor(a, b, c) {
        if (typeof a === 'number') {
            this.width = a;
            this.height = b;
            this.data = new Uint8ClampedArray(a * b * 4);
        } else {
            this.data = a;
            this.width = b;
            this.height = c === undefined ? a.length / 4 / b : c;
        }
    }
}

const surfaces = new WeakMap();  // canvas element -> {w, h, data}

function surface(canvas) {
    let s = surfaces.get(canvas);
    if (!s) {
        s = { w: 300, h: 150, data: new Uint8ClampedArray(300 * 150 * 4), ctx: null };
        surfaces.set(canvas, s);
    }
    return s;
}

function resizeSurface(canvas, w, h) {
    // Setting either dimension of a canvas clears it, as in browsers.
    const s = surface(canvas);
    s.w = Math.max(0, Math.floor(w));
    s.h = Math.max(0, Math.floor(h));
    s.data = new Uint8ClampedArray(s.w * s.h * 4);
}

function parseColour(style) {
    let m = /^rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*(?:,\s*([\d.]+)\s*)?\)$/.exec(style);
    if (m) {
        const a = m[4] === undefined ? 255 : Math.round(parseFloat(m[4]) * 255);
        return [+m[1], +m[2], +m[3], a];
    }
    m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(style);
    if (m) {
        return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16), 255];
    }
    throw new Error(`canvas stand-in: unsupported fillStyle ${style}`);
}

// Clip a w*h rectangle at (x, y) to a surface; returns null when nothing is left.
function clip(s, x, y, w, h) {
    const x0 = Math.max(0, x), y0 = Math.max(0, y);
    const x1 = Math.min(s.w, x + w), y1 = Math.min(s.h, y + h);
    if (x1 <= x0 || y1 <= y0) {
        return null;
    }
    return [x0, y0, x1, y1];
}

class Context2D {
    constructor(canvas) {
        this.canvas = canvas;
        this.fillStyle = '#000000';
        this.imageSmoothingEnabled = true;
        this.globalAlpha = 1;
        this.globalCompositeOperation = 'source-over';
    }

    fillRect(x, y, w, h) {
        const s = surface(this.canvas);
        const [r, g, b, a] = parseColour(this.fillStyle);
        if (a !== 255) {
            throw new Error('canvas stand-in: translucent fills are not supported');
        }
        const c = clip(s, x, y, w, h);
        if (!c) {
            return;
        }
        const [x0, y0, x1, y1] = c;
        for (let yy = y0; yy < y1; yy++) {
            for (let i = (yy * s.w + x0) * 4, end = (yy * s.w + x1) * 4; i < end; i += 4) {
                s.data[i] = r; s.data[i + 1] = g; s.data[i + 2] = b; s.data[i + 3] = 255;
            }
        }
    }

    clearRect(x, y, w, h) {
        const s = surface(this.canvas);
        const c = clip(s, x, y, w, h);
        if (!c) {
            return;
        }
        const [x0, y0, x1, y1] = c;
        for (let yy = y0; yy < y1; yy++) {
            s.data.fill(0, (yy * s.w + x0) * 4, (yy * s.w + x1) * 4);
        }
    }

    getImageData(x, y, w, h) {
        const s = surface(this.canvas);
        const out = new ImageDataStub(w, h);
        const c = clip(s, x, y, w, h);
        if (c) {
            const [x0, y0, x1, y1] = c;
            for (let yy = y0; yy < y1; yy++) {
                const src = (yy * s.w + x0) * 4;
                out.data.set(s.data.subarray(src, src + (x1 - x0) * 4),
                             ((yy - y) * w + (x0 - x)) * 4);
            }
        }
        return out;
    }

    // putImageData replaces pixels (no compositing), per the canvas spec.
    putImageData(img, dx, dy) {
        this._blit(img.data, img.width, img.height, 0, 0, img.width, img.height, dx, dy, false);
    }

    drawImage(src, ...args) {
        let sx = 0, sy = 0, sw, sh, dx, dy, dw, dh;
        const pixels = src instanceof FakeImage ? src._pixels() : surface(src);
        if (args.length === 2) {
            [dx, dy] = args;
            sw = dw = pixels.w;
            sh = dh = pixels.h;
        } else if (args.length === 4) {
            [dx, dy, dw, dh] = args;
            sw = pixels.w;
            sh = pixels.h;
        } else if (args.length === 8) {
            [sx, sy, sw, sh, dx, dy, dw, dh] = args;
        } else {
            throw new Error(`canvas stand-in: drawImage with ${args.length} arguments`);
        }
        if (sw !== dw || sh !== dh) {
            throw new Error('canvas stand-in: scaled drawImage is not supported');
        }
        // Copy the source region first: source and destination may be the same canvas.
        const tmp = new Uint8ClampedArray(sw * sh * 4);
        for (let yy = 0; yy < sh; yy++) {
            const row = ((sy + yy) * pixels.w + sx) * 4;
            tmp.set(pixels.data.subarray(row, row + sw * 4), yy * sw * 4);
        }
        this._blit(tmp, sw, sh, 0, 0, sw, sh, dx, dy, true);
    }

    _blit(data, width, height, sx, sy, sw, sh, dx, dy, composite) {
        const s = surface(this.canvas);
        const c = clip(s, dx, dy, sw, sh);
        if (!c) {
            return;
        }
        const [x0, y0, x1, y1] = c;
        for (let yy = y0; yy < y1; yy++) {
            const srcRow = ((sy + yy - dy) * width + (sx + x0 - dx)) * 4;
            const dstRow = (yy * s.w + x0) * 4;
            const n = (x1 - x0) * 4;
            if (!composite) {
                s.data.set(data.subarray(srcRow, srcRow + n), dstRow);
                continue;
            }
            for (let i = 0; i < n; i += 4) {  // source-over
                const a = data[srcRow + i + 3];
                if (a === 255) {
                    s.data[dstRow + i] = data[srcRow + i];
                    s.data[dstRow + i + 1] = data[srcRow + i + 1];
                    s.data[dstRow + i + 2] = data[srcRow + i + 2];
                    s.data[dstRow + i + 3] = 255;
                } else if (a !== 0) {
                    const da = s.data[dstRow + i + 3];
                    const oa = a + da * (255 - a) / 255;
                    for (let k = 0; k < 3; k++) {
                        const v = (data[srcRow + i + k] * a +
                                   s.data[dstRow + i + k] * da * (255 - a) / 255) / oa;
                        s.data[dstRow + i + k] = Math.round(v);
                    }
                    s.data[dstRow + i + 3] = Math.round(oa);
                }
            }
        }
    }
}

// Images (Tight JPEG, TightPNG, JPEG rectangles) would need a real image decoder. They are not
// supported: a test wanting exact pixels must not let the server send JPEG anyway.
class FakeImage {
    constructor() {
        this.complete = false;
        this.width = 0;
        this.height = 0;
        this._src = '';
    }
    get src() { return this._src; }
    set src(v) {
        this._src = v;
        if (v) {
            const mime = /^data: ?([^;,]+)/.exec(v);
            emit({ event: 'fatal',
                   message: `noVNC received a ${mime ? mime[1] : 'image'} rectangle; this ` +
                            'harness cannot decode images (ask for no JPEG: quality null)' });
        }
    }
    addEventListener() {}
    removeEventListener() {}
    _pixels() { return { w: 0, h: 0, data: new Uint8ClampedArray(0) }; }
}

const canvasProto = window.HTMLCanvasElement.prototype;
Object.defineProperty(canvasProto, 'width', {
    configurable: true,
    get() { return surface(this).w; },
    set(v) { resizeSurface(this, v, surface(this).h); },
});
Object.defineProperty(canvasProto, 'height', {
    configurable: true,
    get() { return surface(this).h; },
    set(v) { resizeSurface(this, surface(this).w, v); },
});
canvasProto.getContext = function getContext(kind) {
    if (kind !== '2d') {
        return null;
    }
    const s = surface(this);
    if (!s.ctx) {
        s.ctx = new Context2D(this);
    }
    return s.ctx;
};

// ---- the browser globals noVNC's modules touch ----------------------------------------------

class ResizeObserverStub {
    observe() {}
    unobserve() {}
    disconnect() {}
}

const globals = {
    window,
    document: window.document,
    navigator: window.navigator,
    CustomEvent: window.CustomEvent,
    Event: window.Event,
    KeyboardEvent: window.KeyboardEvent,
    MouseEvent: window.MouseEvent,
    HTMLCanvasElement: window.HTMLCanvasElement,
    ImageData: ImageDataStub,
    Image: FakeImage,
    ResizeObserver: ResizeObserverStub,
    requestAnimationFrame: window.requestAnimationFrame.bind(window),
    cancelAnimationFrame: window.cancelAnimationFrame.bind(window),
    // Websock compares readyState with these at import time.
    WebSocket: { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 },
};
// Plain DOM interfaces jsdom provides, for modules that use them unqualified.
for (const name of ['MutationObserver', 'Node', 'Element', 'HTMLElement', 'getComputedStyle',
                    'DOMRect', 'PointerEvent', 'WheelEvent', 'TouchEvent', 'UIEvent']) {
    if (window[name] !== undefined && !(name in globalThis)) {
        globals[name] = typeof window[name] === 'function' && /^[a-z]/.test(name)
            ? window[name].bind(window) : window[name];
    }
}
for (const [name, value] of Object.entries(globals)) {
    Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
}
window.ImageData = ImageDataStub;
window.Image = FakeImage;
window.ResizeObserver = ResizeObserverStub;
if (!window.isSecureContext) {
    Object.defineProperty(window, 'isSecureContext', { value: true });
}
if (!window.crypto || !window.crypto.getRandomValues) {
    Object.defineProperty(window, 'crypto', { value: globalThis.crypto });
}

// Imported only now: noVNC's modules read the globals above when they load.
// (By file URL: the package's "exports" only exposes core/rfb.js.)
const core = new URL('./node_modules/@novnc/novnc/core/', import.meta.url);
const { default: RFB } = await import(new URL('rfb.js', core));
const { encodings: ENC } = await import(new URL('encodings.js', core));
const { default: keysyms } = await import(new URL('input/keysymdef.js', core));
const Log = await import(new URL('util/logging.js', core));
Log.initLogging(process.env.NOVNC_LOG_LEVEL || 'warn');

// ---- a TCP socket as noVNC's raw channel -----------------------------------------------------

class TcpChannel {
    constructor(host, port) {
        this.binaryType = 'arraybuffer';
        this.protocol = '';
        this.readyState = 'connecting';
        this.onopen = null;
        this.onmessage = null;
        this.onerror = null;
        this.onclose = null;
        this._error = null;
        this._sock = net.connect({ host, port });
        this._sock.setNoDelay(true);
        this._sock.on('connect', () => {
            this.readyState = 'open';
            if (this.onopen) { this.onopen(new window.Event('open')); }
        });
        this._sock.on('data', (buf) => {
            const data = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
            if (this.onmessage) { this.onmessage({ data }); }
        });
        this._sock.on('error', (err) => {
            this._error = err;
            if (this.onerror) { this.onerror(err); }
        });
        this._sock.on('close', (hadError) => {
            this.readyState = 'closed';
            if (this.onclose) {
                this.onclose({ code: hadError ? 1006 : 1000, wasClean: !hadError,
                               reason: this._error ? this._error.message : '' });
            }
        });
    }

    send(data) {
        if (this.readyState !== 'open') {
            return;
        }
        // Websock hands us a view of its reusable send queue: copy before queueing the write.
        this._sock.write(Buffer.from(data));
    }

    close() {
        if (this.readyState === 'closed') {
            return;
        }
        this.readyState = 'closing';
        this._sock.destroy();
    }
}

// ---- the session -----------------------------------------------------------------------------

const ENCODING_NAMES = {
    raw: ENC.encodingRaw, copyrect: ENC.encodingCopyRect, rre: ENC.encodingRRE,
    hextile: ENC.encodingHextile, zlib: ENC.encodingZlib, tight: ENC.encodingTight,
    tightpng: ENC.encodingTightPNG, zrle: ENC.encodingZRLE, jpeg: ENC.encodingJPEG,
    h264: ENC.encodingH264,
};
const PSEUDO_NAMES = {
    desktopsize: ENC.pseudoEncodingDesktopSize, lastrect: ENC.pseudoEncodingLastRect,
    qemuextendedkeyevent: ENC.pseudoEncodingQEMUExtendedKeyEvent,
    qemuledevent: ENC.pseudoEncodingQEMULedEvent,
    extendeddesktopsize: ENC.pseudoEncodingExtendedDesktopSize, xvp: ENC.pseudoEncodingXvp,
    fence: ENC.pseudoEncodingFence, continuousupdates: ENC.pseudoEncodingContinuousUpdates,
    desktopname: ENC.pseudoEncodingDesktopName,
    extendedclipboard: ENC.pseudoEncodingExtendedClipboard,
    extendedmousebuttons: ENC.pseudoEncodingExtendedMouseButtons,
    vmwarecursor: ENC.pseudoEncodingVMwareCursor, cursor: ENC.pseudoEncodingCursor,
};
const REAL = new Set(Object.values(ENCODING_NAMES));
const isQuality = (e) => e >= ENC.pseudoEncodingQualityLevel0 && e <= ENC.pseudoEncodingQualityLevel9;
const isCompress = (e) => e >= ENC.pseudoEncodingCompressLevel0 &&
                          e <= ENC.pseudoEncodingCompressLevel9;

function lookupAll(names, table, what) {
    return names.map((n) => {
        if (typeof n === 'number') { return n; }
        const v = table[String(n).toLowerCase()];
        if (v === undefined) { throw new Error(`unknown ${what} ${n}`); }
        return v;
    });
}

let rfb = null;
let updates = 0;
let sentEncodings = null;

function connect(msg) {
    if (rfb) {
        throw new Error('already connected');
    }
    const credentials = {};
    if (msg.password !== undefined && msg.password !== null) { credentials.password = msg.password; }
    if (msg.username !== undefined && msg.username !== null) { credentials.username = msg.username; }
    const target = window.document.createElement('div');
    window.document.body.appendChild(target);
    const channel = new TcpChannel(msg.host || '127.0.0.1', msg.port);
    rfb = new RFB(target, channel, { credentials, shared: msg.shared !== false });
    if (Number.isInteger(msg.quality)) { rfb.qualityLevel = msg.quality; }
    if (Number.isInteger(msg.compression)) { rfb.compressionLevel = msg.compression; }

    // noVNC has no API to choose encodings: it always sends its own list (see _sendEncodings).
    // When asked, we let it build that list and edit it before it is sent.
    const wantReal = msg.encodings ? lookupAll(msg.encodings, ENCODING_NAMES, 'encoding') : null;
    const wantPseudo = msg.pseudo ? lookupAll(msg.pseudo, PSEUDO_NAMES, 'pseudo-encoding') : null;
    const origClientEncodings = RFB.messages.clientEncodings;
    const origSendEncodings = rfb._sendEncodings.bind(rfb);
    rfb._sendEncodings = () => {
        RFB.messages.clientEncodings = (sock, list) => {
            let out = list.slice();
            if (wantReal) {
                out = [...wantReal, ...out.filter((e) => !REAL.has(e))];
            }
            if (wantPseudo) {
                out = out.filter((e) => REAL.has(e) || isQuality(e) || isCompress(e));
                out.push(...wantPseudo);
            }
            if (msg.quality === null) { out = out.filter((e) => !isQuality(e)); }
            if (msg.compression === null) { out = out.filter((e) => !isCompress(e)); }
            sentEncodings = out;
            return origClientEncodings(sock, out);
        };
        try {
            origSendEncodings();
        } finally {
            RFB.messages.clientEncodings = origClientEncodings;
        }
    };

    const origFbu = rfb._framebufferUpdate.bind(rfb);
    rfb._framebufferUpdate = () => {
        const done = origFbu();
        if (done) {
            updates += 1;
            emit({ event: 'update', n: updates });
        }
        return done;
    };
    const origResize = rfb._resize.bind(rfb);
    rfb._resize = (width, height) => {
        origResize(width, height);
        emit({ event: 'resize', width, height });
    };

    rfb.addEventListener('connect', () => emit({ event: 'connected' }));
    rfb.addEventListener('disconnect', (e) => {
        emit({ event: 'disconnected', clean: e.detail.clean, reason: e.detail.clean ? null : lastError });
        rfb = null;
    });
    rfb.addEventListener('securityfailure', (e) => emit({
        event: 'securityfailure', status: e.detail.status, reason: e.detail.reason ?? null }));
    rfb.addEventListener('credentialsrequired', (e) => emit({
        event: 'credentialsrequired', types: e.detail.types }));
    rfb.addEventListener('bell', () => emit({ event: 'bell' }));
    rfb.addEventListener('clipboard', (e) => emit({ event: 'clipboard', text: e.detail.text }));
    rfb.addEventListener('desktopname', (e) => emit({ event: 'desktopname', name: e.detail.name }));
    rfb.addEventListener('capabilities', (e) => emit({
        event: 'capabilities', capabilities: e.detail.capabilities }));
}

function requireConnected() {
    if (!rfb || rfb._rfbConnectionState !== 'connected') {
        throw new Error('not connected');
    }
}

function keysymFor(ch) {
    const special = { '\n': 0xff0d, '\r': 0xff0d, '\t': 0xff09, '\b': 0xff08, '\x1b': 0xff1b,
                      '\x7f': 0xffff };
    if (special[ch] !== undefined) {
        return special[ch];
    }
    return keysyms.lookup(ch.codePointAt(0));
}

async function handle(msg) {
    switch (msg.cmd) {
        case 'connect':
            connect(msg);
            return {};
        case 'credentials':
            rfb.sendCredentials({ password: msg.password, username: msg.username });
            return {};
        case 'key':
            requireConnected();
            rfb.sendKey(msg.keysym, msg.code, msg.down === undefined ? undefined : !!msg.down);
            return {};
        case 'type':
            requireConnected();
            for (const ch of msg.text) {
                rfb.sendKey(keysymFor(ch), undefined);
            }
            return {};
        case 'pointer':
            requireConnected();
            rfb._sendMouse(msg.x, msg.y, msg.mask || 0);
            return {};
        case 'paste':
            requireConnected();
            rfb.clipboardPasteFrom(msg.text);
            return {};
        case 'setdesktopsize':
            // noVNC's own SetDesktopSize builder, as its resizeSession option would send it
            requireConnected();
            if (!rfb._supportsSetDesktopSize) {
                throw new Error('the server did not announce SetDesktopSize support');
            }
            RFB.messages.setDesktopSize(rfb._sock, msg.width, msg.height,
                                        rfb._screenID, rfb._screenFlags);
            return {};
        case 'capture': {
            if (!rfb) {
                throw new Error('not connected');
            }
            await rfb._display.flush();
            const img = rfb.getImageData();
            fs.writeFileSync(msg.path, Buffer.from(img.data.buffer, img.data.byteOffset,
                                                   img.data.byteLength));
            return { width: img.width, height: img.height, updates };
        }
        case 'encodings':
            return { encodings: sentEncodings };
        case 'disconnect':
            if (rfb) { rfb.disconnect(); }
            return {};
        case 'quit':
            if (rfb) { rfb.disconnect(); }
            setTimeout(() => process.exit(0), 50);
            return {};
        default:
            throw new Error(`unknown command ${msg.cmd}`);
    }
}

process.on('uncaughtException', (e) => {
    emit({ event: 'fatal', message: String(e && e.stack || e) });
});
process.on('unhandledRejection', (e) => {
    emit({ event: 'fatal', message: String(e && e.stack || e) });
});

const lines = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on('line', (line) => {
    if (!line.trim()) {
        return;
    }
    queue = queue.then(async () => {
        let msg;
        try {
            msg = JSON.parse(line);
            const reply = await handle(msg);
            emit({ event: 'ok', id: msg.id ?? null, cmd: msg.cmd, ...reply });
        } catch (e) {
            emit({ event: 'error', id: msg ? msg.id ?? null : null, message: String(e.message || e) });
        }
    });
});
lines.on('close', () => {
    // Our parent went away: leave at once.
    if (rfb) { rfb.disconnect(); }
    setTimeout(() => process.exit(0), 50);
});
emit({ event: 'ready' });
