/*
 * capture: a one-shot libvncclient viewer used as a real peer by vncterm's tests.
 *
 * It connects, asks for the pixel format and encodings given on the command line, keeps
 * requesting incremental updates (libvncclient sends one after every FramebufferUpdate), types
 * the given keysyms after the first update, and once it has seen at least --min-updates updates
 * followed by --quiet-ms without a message (or the server closed the connection) it writes the
 * client framebuffer, exactly as libvncclient holds it, to --out and prints one JSON line of
 * facts on stdout. libvncclient's own log goes to stderr.
 *
 * Byte order: libvncclient keeps its framebuffer in the client's *wire* byte order. Raw and
 * CopyRect rectangles are copied byte for byte and fills store the pixel value exactly as read
 * from the socket, so the file holds pixels as a Raw rectangle would carry them. Exceptions in
 * 0.9.14: Tight's 24-bit TPIXEL path stores host-order pixels, and ZRLE's 3-byte CPIXEL path
 * misreads big-endian formats and fills the spare byte with garbage (see tests/peers/libvnc.py).
 *
 * Colour maps: libvncclient 0.9.14 ignores SetColourMapEntries without even consuming its body
 * (the stream would desynchronise), so this program peeks at the type of every server message and
 * reads SetColourMapEntries itself, recording the entries (reported as "colour_map").
 *
 * The VNC password, if any, comes from the environment variable VNCTERM_PEER_PASSWORD.
 *
 * Exit status: 0 screen written; 2 could not connect / handshake or authentication failed;
 * 3 the connection failed before min-updates updates arrived (screen still written);
 * 4 timeout before min-updates updates (screen still written); 64 usage error.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <signal.h>

#include <rfb/rfbclient.h>

static char last_log[512];
static int updates;
static int bells;
static double last_update_at;
static int have_colour_map;
static uint16_t colour_map[256][3];
static char *cut_text;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void log_to_stderr(const char *format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(last_log, sizeof last_log, format, args);
  va_end(args);
  fputs("libvncclient: ", stderr);
  fputs(last_log, stderr);
  fflush(stderr);
  size_t n = strlen(last_log);
  while (n > 0 && (last_log[n - 1] == '\n' || last_log[n - 1] == '\r')) last_log[--n] = 0;
}

static char *get_password(rfbClient *client) {
  (void)client;
  const char *pw = getenv("VNCTERM_PEER_PASSWORD");
  return strdup(pw ? pw : "");
}

static void on_finished_update(rfbClient *client) {
  (void)client;
  updates++;
  last_update_at = now_s();
}

static void on_bell(rfbClient *client) {
  (void)client;
  bells++;
}

static void on_cut_text(rfbClient *client, const char *text, int len) {
  (void)client;
  free(cut_text);
  cut_text = malloc((size_t)len + 1);
  if (cut_text) {
    memcpy(cut_text, text, (size_t)len);
    cut_text[len] = 0;
  }
}

/* Put back the byte ReadFromRFBServer just consumed: for a 1-byte read it always sits in
 * client->buf right before bufoutptr. */
static void unread_one(rfbClient *client) {
  client->bufoutptr--;
  client->buffered++;
}

static rfbBool read_colour_map(rfbClient *client) {
  uint8_t hdr[6]; /* message-type, padding, first-colour U16, number-of-colours U16 */
  if (!ReadFromRFBServer(client, (char *)hdr, 6)) return FALSE;
  unsigned first = ((unsigned)hdr[2] << 8 | hdr[3]);
  unsigned count = ((unsigned)hdr[4] << 8 | hdr[5]);
  for (unsigned i = 0; i < count; i++) {
    uint8_t rgb[6];
    if (!ReadFromRFBServer(client, (char *)rgb, 6)) return FALSE;
    if (first + i < 256) {
      colour_map[first + i][0] = (uint16_t)(rgb[0] << 8 | rgb[1]);
      colour_map[first + i][1] = (uint16_t)(rgb[2] << 8 | rgb[3]);
      colour_map[first + i][2] = (uint16_t)(rgb[4] << 8 | rgb[5]);
    }
  }
  have_colour_map = 1;
  return TRUE;
}

/* Handle one server message; FALSE when the connection failed or closed. */
static rfbBool handle_one(rfbClient *client) {
  uint8_t type;
  if (!ReadFromRFBServer(client, (char *)&type, 1)) return FALSE;
  if (type == rfbSetColourMapEntries) {
    unread_one(client); /* read_colour_map reads the whole message, type byte included */
    return read_colour_map(client);
  }
  unread_one(client);
  return HandleRFBServerMessage(client);
}

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
    if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
    else if (*p < 0x20 || *p >= 0x7f) fprintf(f, "\\u%04x", *p); /* bytes as Latin-1 */
    else fputc(*p, f);
  }
  fputc('"', f);
}

static int parse_ints(const char *s, int *out, int n) {
  for (int i = 0; i < n; i++) {
    char *end;
    long v = strtol(s, &end, 0);
    if (end == s) return 0;
    out[i] = (int)v;
    s = end;
    if (i < n - 1) {
      if (*s != ',') return 0;
      s++;
    }
  }
  return *s == 0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: capture --host H --port P --out FILE "
          "--format bpp,depth,bigendian,truecolour,rmax,gmax,bmax,rshift,gshift,bshift "
          "[--encodings 'tight zrle ...'] [--compress N] [--quality N] [--min-updates N] "
          "[--quiet-ms N] [--timeout-ms N] [--keys hex,hex,...] [--shared 0|1]\n");
  exit(64);
}

int main(int argc, char **argv) {
  const char *host = NULL, *out = NULL, *encodings = NULL, *keys = NULL;
  int port = -1, min_updates = 1, quiet_ms = 300, timeout_ms = 10000;
  int compress = -1, quality = -1, shared = 1, have_format = 0;
  int fmt[10];

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(a, "--host")) host = v;
    else if (!strcmp(a, "--port")) port = atoi(v);
    else if (!strcmp(a, "--out")) out = v;
    else if (!strcmp(a, "--format")) have_format = parse_ints(v, fmt, 10);
    else if (!strcmp(a, "--encodings")) encodings = v;
    else if (!strcmp(a, "--compress")) compress = atoi(v);
    else if (!strcmp(a, "--quality")) quality = atoi(v);
    else if (!strcmp(a, "--min-updates")) min_updates = atoi(v);
    else if (!strcmp(a, "--quiet-ms")) quiet_ms = atoi(v);
    else if (!strcmp(a, "--timeout-ms")) timeout_ms = atoi(v);
    else if (!strcmp(a, "--keys")) keys = v;
    else if (!strcmp(a, "--shared")) shared = atoi(v);
    else usage();
  }
  if (!host || port < 0 || !out || !have_format) usage();

  signal(SIGPIPE, SIG_IGN); /* a server that hangs up must not kill us mid-write */
  rfbClientLog = log_to_stderr;
  rfbClientErr = log_to_stderr;

  rfbClient *client = rfbGetClient(8, 3, 4);
  if (!client) return 2;
  client->format.bitsPerPixel = (uint8_t)fmt[0];
  client->format.depth = (uint8_t)fmt[1];
  client->format.bigEndian = (uint8_t)(fmt[2] != 0);
  client->format.trueColour = (uint8_t)(fmt[3] != 0);
  client->format.redMax = (uint16_t)fmt[4];
  client->format.greenMax = (uint16_t)fmt[5];
  client->format.blueMax = (uint16_t)fmt[6];
  client->format.redShift = (uint8_t)fmt[7];
  client->format.greenShift = (uint8_t)fmt[8];
  client->format.blueShift = (uint8_t)fmt[9];
  client->appData.requestedDepth = fmt[1];
  client->appData.shareDesktop = shared ? TRUE : FALSE;
  client->appData.useRemoteCursor = FALSE; /* the cursor would be drawn into the framebuffer */
  if (encodings) client->appData.encodingsString = encodings;
  client->appData.compressLevel = compress; /* -1: no CompressLevel pseudo-encoding */
  /* Quality (and with it Tight JPEG) only when asked: JPEG is lossy, our comparisons exact. */
  client->appData.enableJPEG = quality >= 0 ? TRUE : FALSE;
  client->appData.qualityLevel = quality;
  client->canHandleNewFBSize = TRUE;
  client->GetPassword = get_password;
  client->FinishedFrameBufferUpdate = on_finished_update;
  client->Bell = on_bell;
  client->GotXCutText = on_cut_text;
  free(client->serverHost);
  client->serverHost = strdup(host);
  client->serverPort = port;

  if (!rfbInitClient(client, NULL, NULL)) { /* frees client on failure */
    printf("{\"error\": ");
    json_string(stdout, last_log);
    printf("}\n");
    return 2;
  }

  double start = now_s();
  double last_activity = start;
  int keys_sent = keys == NULL;
  int failed = 0, closed = 0, timed_out = 0;

  for (;;) {
    double t = now_s();
    if (updates >= min_updates && keys_sent && (t - last_activity) * 1000.0 >= quiet_ms) break;
    if ((t - start) * 1000.0 >= timeout_ms) {
      timed_out = 1;
      break;
    }
    int r = client->buffered > 0 ? 1 : WaitForMessage(client, 10000);
    if (r < 0) {
      failed = 1;
      break;
    }
    if (r > 0) {
      if (!handle_one(client)) {
        char probe;
        ssize_t n = recv(client->sock, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0) closed = 1;
        else failed = 1;
        break;
      }
      if (updates > 0) last_activity = last_update_at;
    }
    if (!keys_sent && updates >= 1) {
      const char *p = keys;
      while (*p) {
        char *end;
        unsigned long ks = strtoul(p, &end, 16);
        if (end == p) break;
        SendKeyEvent(client, (uint32_t)ks, TRUE);
        SendKeyEvent(client, (uint32_t)ks, FALSE);
        p = *end == ',' ? end + 1 : end;
      }
      keys_sent = 1;
      last_activity = now_s();
    }
  }

  size_t size = (size_t)client->width * client->height * client->format.bitsPerPixel / 8;
  FILE *f = fopen(out, "wb");
  if (!f || (size && fwrite(client->frameBuffer, 1, size, f) != size) || fclose(f) != 0) {
    fprintf(stderr, "capture: cannot write %s: %s\n", out, strerror(errno));
    return 2;
  }

  printf("{\"width\": %d, \"height\": %d, \"updates\": %d, \"bells\": %d, \"closed\": %s, "
         "\"failed\": %s, \"timed_out\": %s, \"name\": ",
         client->width, client->height, updates, bells, closed ? "true" : "false",
         failed ? "true" : "false", timed_out ? "true" : "false");
  json_string(stdout, client->desktopName ? client->desktopName : "");
  printf(", \"last_log\": ");
  json_string(stdout, last_log);
  printf(", \"cut_text\": ");
  if (cut_text) json_string(stdout, cut_text);
  else printf("null");
  printf(", \"colour_map\": ");
  if (have_colour_map) {
    printf("[");
    for (int i = 0; i < 256; i++)
      printf("%s[%u, %u, %u]", i ? ", " : "", colour_map[i][0], colour_map[i][1],
             colour_map[i][2]);
    printf("]");
  } else {
    printf("null");
  }
  printf("}\n");
  fflush(stdout);

  int status = 0;
  if (updates < min_updates) status = timed_out ? 4 : 3;
  rfbClientCleanup(client);
  return status;
}
