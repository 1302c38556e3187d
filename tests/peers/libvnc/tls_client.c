/*
 * tls_client: a one-shot libvncclient viewer (built with GnuTLS) that speaks VeNCrypt, used as a
 * real TLS peer by vncterm's security tests.
 *
 * It connects with whatever security type and VeNCrypt sub-type libvncclient picks from the
 * server's list (it prefers the first encrypted sub-type offered), answers credential requests
 * from the command line / environment, waits for the first framebuffer update, types the given
 * keysyms, keeps requesting updates until --min-updates arrived and the screen has been quiet
 * for --quiet-ms, then writes the framebuffer (32 bpp, 0x00RRGGBB little-endian) to --out and
 * prints one JSON line: {"ok", "subauth", "width", "height", "updates", "error"}.
 *
 * Credentials: --ca (CA certificate, PEM), --cert/--key (client certificate), --user (Plain
 * user name); the password (VNC or Plain) comes from VNCTERM_PEER_PASSWORD.
 *
 * Exit status: 0 screen written; 2 connection, TLS or authentication failed; 3 the connection
 * failed later; 4 timeout; 64 usage error.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rfb/rfbclient.h>

static const char *opt_ca, *opt_cert, *opt_key, *opt_user;
static char last_log[512];
static int updates;
static double last_update;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void log_line(const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  vsnprintf(last_log, sizeof last_log, format, ap);
  va_end(ap);
  fprintf(stderr, "libvncclient: %s", last_log);
  size_t n = strlen(last_log);
  while (n && (last_log[n - 1] == '\n' || last_log[n - 1] == '\r')) last_log[--n] = 0;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static char *password(rfbClient *client) {
  (void)client;
  const char *pw = getenv("VNCTERM_PEER_PASSWORD");
  return strdup(pw ? pw : "");
}

static rfbCredential *credential(rfbClient *client, int type) {
  (void)client;
  rfbCredential *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  if (type == rfbCredentialTypeX509) {
    c->x509Credential.x509CACertFile = dup_or_null(opt_ca);
    c->x509Credential.x509ClientCertFile = dup_or_null(opt_cert);
    c->x509Credential.x509ClientKeyFile = dup_or_null(opt_key);
    c->x509Credential.x509CrlVerifyMode = rfbX509CrlVerifyNone;
  } else if (type == rfbCredentialTypeUser) {
    const char *pw = getenv("VNCTERM_PEER_PASSWORD");
    c->userCredential.username = strdup(opt_user ? opt_user : "");
    c->userCredential.password = strdup(pw ? pw : "");
  } else {
    free(c);
    return NULL;
  }
  return c;
}

static void finished_update(rfbClient *client) {
  (void)client;
  updates++;
  last_update = now_s();
}

static void json_str(const char *s) {
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
    if (*p == '"' || *p == '\\') printf("\\%c", *p);
    else if (*p < 0x20 || *p >= 0x7f) printf("\\u%04x", *p);
    else putchar(*p);
  }
  putchar('"');
}

static void report(int ok, int subauth, int w, int h, const char *error) {
  printf("{\"ok\": %s, \"subauth\": %d, \"width\": %d, \"height\": %d, \"updates\": %d, "
         "\"error\": ", ok ? "true" : "false", subauth, w, h, updates);
  json_str(error ? error : "");
  printf("}\n");
  fflush(stdout);
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *out = NULL, *keys = NULL;
  int port = 5900, min_updates = 1, quiet_ms = 300, timeout_ms = 10000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--host")) host = v;
    else if (!strcmp(k, "--port")) port = atoi(v);
    else if (!strcmp(k, "--out")) out = v;
    else if (!strcmp(k, "--keys")) keys = v;
    else if (!strcmp(k, "--min-updates")) min_updates = atoi(v);
    else if (!strcmp(k, "--quiet-ms")) quiet_ms = atoi(v);
    else if (!strcmp(k, "--timeout-ms")) timeout_ms = atoi(v);
    else if (!strcmp(k, "--ca")) opt_ca = v;
    else if (!strcmp(k, "--cert")) opt_cert = v;
    else if (!strcmp(k, "--key")) opt_key = v;
    else if (!strcmp(k, "--user")) opt_user = v;
    else {
      fprintf(stderr, "unknown option %s\n", k);
      return 64;
    }
  }
  rfbClientLog = rfbClientErr = log_line;
  rfbClient *client = rfbGetClient(8, 3, 4);
  client->format.redShift = 16;
  client->format.greenShift = 8;
  client->format.blueShift = 0;
  client->appData.encodingsString = "zrle hextile raw";
  client->GetPassword = password;
  client->GetCredential = credential;
  client->FinishedFrameBufferUpdate = finished_update;
  client->serverHost = strdup(host);
  client->serverPort = port;
  client->canHandleNewFBSize = FALSE;
  if (!rfbInitClient(client, NULL, NULL)) { /* frees the client */
    report(0, 0, 0, 0, last_log);
    return 2;
  }
  int subauth = (int)client->subAuthScheme;
  double start = now_s(), deadline = start + timeout_ms / 1000.0;
  int typed = keys == NULL, status = 0;
  for (;;) {
    double t = now_s();
    if (t > deadline) { status = 4; break; }
    if (updates >= min_updates && typed && t - last_update > quiet_ms / 1000.0) break;
    int n = WaitForMessage(client, 50000);
    if (n < 0) { status = 3; break; }
    if (n > 0 && !HandleRFBServerMessage(client)) { status = 3; break; }
    if (!typed && updates >= 1) {
      const char *p = keys;
      while (*p) {
        char *end;
        unsigned long ks = strtoul(p, &end, 16);
        if (end == p) break;
        SendKeyEvent(client, (uint32_t)ks, TRUE);
        SendKeyEvent(client, (uint32_t)ks, FALSE);
        p = *end == ',' ? end + 1 : end;
      }
      typed = 1;
      last_update = now_s();
    }
  }
  int w = client->width, h = client->height;
  if (out) {
    FILE *f = fopen(out, "wb");
    if (f) {
      fwrite(client->frameBuffer, 4, (size_t)w * (size_t)h, f);
      fclose(f);
    }
  }
  report(status == 0, subauth, w, h, status ? last_log : NULL);
  rfbClientCleanup(client);
  return status;
}
