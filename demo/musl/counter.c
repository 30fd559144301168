/* A tiny stateful HTTP service for the musl demo image, linked against musl (musl-gcc): every
 * request gets the number of requests served so far, kept only in this process's memory.
 * Usage: counter <port>   (listens on 0.0.0.0) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: counter <port>\n"); return 2; }
  int srv = socket(AF_INET, SOCK_STREAM, 0), on = 1;
  setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])), .sin_addr.s_addr = htonl(INADDR_ANY) };
  if (bind(srv, (struct sockaddr *)&a, sizeof a) || listen(srv, 64)) { perror("listen"); return 1; }
  printf("counter listening on 0.0.0.0:%s\n", argv[1]);
  fflush(stdout);
  unsigned long served = 0;
  for (;;) {
    int c = accept(srv, NULL, NULL);
    if (c < 0) continue;
    char buf[2048], out[128];
    if (read(c, buf, sizeof buf) > 0) {
      int n = snprintf(out, sizeof out, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n%lu\n", ++served);
      write(c, out, n);
    }
    close(c);
  }
}
