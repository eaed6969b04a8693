/* SPDX-License-Identifier: MIT */
/* The conn state machine's allowed[][] table, its names, and the pool: get,
 * the in-flight rule (no release while an op is armed), reuse. */
#include "t.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conn.h"
#include "worker.h"

#define S(x) CONN_ST_##x

TEST(every_state_has_a_unique_name)
{
	int i, j;

	for (i = 0; i < CONN_ST__COUNT; i++) {
		EXPECT(strcmp(conn_state_name(i), "?") != 0);
		for (j = 0; j < i; j++)
			EXPECT(strcmp(conn_state_name(i), conn_state_name(j)) != 0);
	}
	EXPECT_STR_EQ(conn_state_name(S(RELAY_USER)), "RELAY_USER");
	EXPECT_STR_EQ(conn_state_name(CONN_ST__COUNT), "?");
}

TEST(table_allows_the_documented_paths)
{
	static const struct {
		enum conn_state from, to;
		bool ok;
	} cases[] = {
		{ S(FREE), S(HANDSHAKE), true },	/* TLS client */
		{ S(FREE), S(CONNECT_UP), true },	/* mode 0 */
		{ S(HANDSHAKE), S(CONNECT_UP), true },
		{ S(HANDSHAKE), S(DRAIN), true },	/* 400 answer, alert */
		{ S(CONNECT_UP), S(UP_HANDSHAKE), true },
		{ S(CONNECT_UP), S(RELAY_USER), true },
		{ S(CONNECT_UP), S(RELAY_SPLICE), true },
		{ S(UP_HANDSHAKE), S(RELAY_USER), true },
		{ S(UP_HANDSHAKE), S(RELAY_SPLICE), true },	/* kTLS after internal TLS */
		{ S(RELAY_SPLICE), S(RELAY_CTRL), true },
		{ S(RELAY_CTRL), S(RELAY_SPLICE), true },
		{ S(CLOSING), S(FREE), true },
		{ S(HANDSHAKE), S(RELAY_USER), false },	/* never skip the upstream */
		{ S(FREE), S(RELAY_USER), false },
		{ S(RELAY_USER), S(RELAY_SPLICE), false },
		{ S(RELAY_USER), S(HANDSHAKE), false },
		{ S(DRAIN), S(RELAY_USER), false },
		{ S(CLOSING), S(HANDSHAKE), false },
		{ S(FREE), S(FREE), false },
		{ S(FREE), CONN_ST__COUNT, false },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (conn_is_allowed(cases[i].from, cases[i].to) != cases[i].ok)
			t_fail(__FILE__, __LINE__, "%s -> %s should be %s",
			       conn_state_name(cases[i].from), conn_state_name(cases[i].to),
			       cases[i].ok ? "allowed" : "refused");
}

TEST(every_live_state_can_close_and_only_closing_frees)
{
	int i;

	for (i = 1; i < CONN_ST__COUNT; i++) {
		if (i != S(CLOSING))
			EXPECT(conn_is_allowed(i, S(CLOSING)));
		EXPECT(conn_is_allowed(i, S(FREE)) == (i == S(CLOSING)));
		EXPECT(!conn_is_allowed(i, i));
	}
}

TEST(every_state_is_reachable_from_free)
{
	bool seen[CONN_ST__COUNT] = { [S(FREE)] = true };
	bool grew = true;
	int i, j;

	while (grew) {
		grew = false;
		for (i = 0; i < CONN_ST__COUNT; i++)
			for (j = 0; j < CONN_ST__COUNT; j++)
				if (seen[i] && !seen[j] && conn_is_allowed(i, j))
					seen[j] = grew = true;
	}
	for (i = 0; i < CONN_ST__COUNT; i++)
		if (!seen[i])
			t_fail(__FILE__, __LINE__, "%s unreachable", conn_state_name(i));
}

/* A worker with no ring: enough for the pool as long as no op is armed. */
static struct worker *fake_worker(struct gateway *gw, struct config *cfg)
{
	struct worker *w = calloc(1, sizeof(*w));

	memset(gw, 0, sizeof(*gw));
	memset(cfg, 0, sizeof(*cfg));
	gw->cfg = cfg;
	w->gw = gw;
	w->cfg = cfg;
	return w;
}

static void free_worker(struct worker *w)
{
	unsigned int i;

	for (i = 0; i < w->pool.n_chunks; i++)
		free(w->pool.chunks[i]);
	free(w->pool.chunks);
	free(w);
}

TEST(illegal_transition_aborts)
{
	struct gateway gw;
	struct config cfg;
	struct worker *w = fake_worker(&gw, &cfg);
	struct conn *c = conn_get(w);
	pid_t pid;
	int st;

	ASSERT(c);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(2);	/* keep the BUG line out of the test output */
		conn_set_state(c, S(RELAY_USER));
		_exit(0);
	}
	ASSERT(waitpid(pid, &st, 0) == pid);
	EXPECT(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	free_worker(w);
}

TEST(pool_keeps_a_conn_while_an_op_is_in_flight)
{
	struct gateway gw;
	struct config cfg;
	struct worker *w = fake_worker(&gw, &cfg);
	struct conn *c = conn_get(w);

	ASSERT(c);
	EXPECT_EQ(w->n_active, 1);
	EXPECT_EQ(c->side[0].fd, -1);
	EXPECT(c->ops[SLOT_SEND_U].conn == c && c->ops[SLOT_SEND_U].kind == OP_SEND);
	EXPECT_EQ(c->ops[SLOT_SEND_U].idx, SIDE_UPSTREAM);
	c->ls = &(struct lsock){ .cfg = &(struct listener_cfg){ .name = "t" }, .w = w };
	c->inflight = 1;	/* as if a recv were still in the kernel */
	c->state = S(RELAY_USER);
	conn_close(c, "test");
	EXPECT_EQ(c->state, S(CLOSING));
	conn_put_if_done(c);
	EXPECT_EQ(w->n_active, 1);	/* not freed under the kernel's feet */
	c->inflight = 0;
	conn_put_if_done(c);
	EXPECT_EQ(w->n_active, 0);
	EXPECT_EQ(c->state, S(FREE));
	EXPECT_EQ(atomic_load(&gw.n_closed), 1);
	free_worker(w);
}

TEST(pool_reuses_conns_without_growing)
{
	struct gateway gw;
	struct config cfg;
	struct worker *w = fake_worker(&gw, &cfg);
	struct lsock ls = { .cfg = &(struct listener_cfg){ .name = "t" }, .w = w };
	uint64_t last = 0;
	int i;

	for (i = 0; i < 1000; i++) {
		struct conn *c = conn_get(w);

		ASSERT(c);
		EXPECT(c->id > last);
		last = c->id;
		c->ls = &ls;
		conn_close(c, "test");
		conn_put_if_done(c);
	}
	EXPECT_EQ(w->n_active, 0);
	EXPECT(w->pool.n_total <= 64);
	EXPECT_EQ(w->pool.n_free, w->pool.n_total);
	free_worker(w);
}
