// Decode a stream of RFB rectangles with noVNC's own decoders (core/decoders/*.js) and print
// the resulting framebuffer. A test peer for vncterm's encoders: nothing here decodes pixels,
// it only feeds noVNC's decoders the way noVNC's RFB class does.
//
// stdin (all integers big-endian):
//   U16 width, U16 height                                    the framebuffer, initially black
//   then any number of rectangles:
//   U16 x, U16 y, U16 w, U16 h, S32 encoding, U32 length, length bytes of payload
// stdout: width * height * 4 bytes, RGBA, row-major.
// On a decoder error, a short payload or unread payload bytes: a message on stderr, exit 1.

globalThis.window = globalThis;  // noVNC's logging module looks for window.console

const base = "./node_modules/@novnc/novnc/core/decoders/";
const modules = {
    0: "raw.js", 1: "copyrect.js", 2: "rre.js", 5: "hextile.js",
    6: "zlib.js", 7: "tight.js", 16: "zrle.js",
};
const decoders = {};
for (const [enc, file] of Object.entries(modules)) {
    const mod = await import(new URL(base + file, import.meta.url));
    decoders[enc] = new mod.default();  // one decoder per encoding, as in one RFB connection
}

class Display {
    constructor(width, height) {
        this.width = width;
        this.height = height;
        this.buf = new Uint8Array(width * height * 4);
        for (let i = 3; i < this.buf.length; i += 4) this.buf[i] = 255;
    }

    _check(x, y, w, h) {
        if (x < 0 || y < 0 || w < 0 || h < 0 || x + w > this.width || y + h > this.height) {
            throw new Error(`draw outside the framebuffer: ${x},${y} ${w}x${h}`);
        }
    }

    fillRect(x, y, w, h, color) {
        this._check(x, y, w, h);
        for (let row = y; row < y + h; row++) {
            for (let col = x; col < x + w; col++) {
                const i = (row * this.width + col) * 4;
                this.buf[i] = color[0];
                this.buf[i + 1] = color[1];
                this.buf[i + 2] = color[2];
                this.buf[i + 3] = 255;
            }
        }
    }

    blitImage(x, y, w, h, arr, offset) {
        this._check(x, y, w, h);
        offset = offset || 0;
        if (arr.length - offset < w * h * 4) {
            throw new Error(`blitImage: ${arr.length - offset} bytes for ${w}x${h}`);
        }
        for (let row = 0; row < h; row++) {
            const src = offset + row * w * 4;
            this.buf.set(arr.subarray(src, src + w * 4), ((y + row) * this.width + x) * 4);
        }
    }

    copyImage(oldX, oldY, newX, newY, w, h) {
        this._check(oldX, oldY, w, h);
        this._check(newX, newY, w, h);
        const tmp = new Uint8Array(w * h * 4);
        for (let row = 0; row < h; row++) {
            const s = ((oldY + row) * this.width + oldX) * 4;
            tmp.set(this.buf.subarray(s, s + w * 4), row * w * 4);
        }
        for (let row = 0; row < h; row++) {
            this.buf.set(tmp.subarray(row * w * 4, (row + 1) * w * 4),
                         ((newY + row) * this.width + newX) * 4);
        }
    }

    imageRect() {
        throw new Error("JPEG/PNG rectangles are not supported by this driver");
    }
}

// A stand-in for noVNC's Websock receive queue, holding one rectangle's payload.
class ReceiveQueue {
    constructor(bytes) {
        this._rQ = bytes;
        this._rQi = 0;
        this._rQlen = bytes.length;
    }
    rQlen() { return this._rQlen - this._rQi; }
    rQpeek8() { return this._rQ[this._rQi]; }
    rQskipBytes(n) { this._rQi += n; }
    _shift(n) {
        let v = 0;
        for (let k = 0; k < n; k++) v = v * 256 + this._rQ[this._rQi++];
        return v;
    }
    rQshift8() { return this._shift(1); }
    rQshift16() { return this._shift(2); }
    rQshift32() { return this._shift(4); }
    rQshiftBytes(n, copy = true) {
        const part = this._rQ.subarray(this._rQi, this._rQi + n);
        this._rQi += n;
        return copy ? part.slice() : part;
    }
    rQshiftTo(target, n) {
        target.set(this._rQ.subarray(this._rQi, this._rQi + n));
        this._rQi += n;
    }
    rQpeekBytes(n, copy = true) {
        const part = this._rQ.subarray(this._rQi, this._rQi + n);
        return copy ? part.slice() : part;
    }
    rQwait(msg, num, goback) {
        if (this._rQlen - this._rQi < num) {
            if (goback) this._rQi -= goback;
            return true;
        }
        return false;
    }
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = new Uint8Array(Buffer.concat(chunks));
const view = new DataView(input.buffer, input.byteOffset, input.byteLength);

if (input.length < 4) throw new Error("no header");
const display = new Display(view.getUint16(0), view.getUint16(2));
let pos = 4;
let index = 0;
try {
    while (pos < input.length) {
        if (input.length - pos < 16) throw new Error("truncated rectangle header");
        const x = view.getUint16(pos), y = view.getUint16(pos + 2);
        const w = view.getUint16(pos + 4), h = view.getUint16(pos + 6);
        const enc = view.getInt32(pos + 8), len = view.getUint32(pos + 12);
        pos += 16;
        if (input.length - pos < len) throw new Error("truncated payload");
        const decoder = decoders[enc];
        if (!decoder) throw new Error(`no decoder for encoding ${enc}`);
        const sock = new ReceiveQueue(input.subarray(pos, pos + len));
        pos += len;
        if (!decoder.decodeRect(x, y, w, h, sock, display, 24)) {
            throw new Error(`decoder wanted more than the ${len}-byte payload`);
        }
        if (sock.rQlen() !== 0) {
            throw new Error(`${sock.rQlen()} of ${len} payload bytes left unread`);
        }
        index++;
    }
} catch (e) {
    process.stderr.write(`rectangle ${index}: ${e.stack || e}\n`);
    process.exit(1);
}
process.stdout.write(display.buf);
