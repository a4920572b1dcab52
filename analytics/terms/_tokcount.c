/* analytics._tokcount — the counting kernel of analytics.termcounts, compiled.
 *
 * count_batch(data, extra, starts, ends, groups, modes, cell_of_doc) counts the tokens of a batch of rows per
 * group, where a group is (document, scope) = (group // 3, group % 3), and sums them per
 * (cell, scope, token) for the store's step tables, in one pass with one hash table of the
 * batch's tokens. Rows come in two modes:
 *
 *   0  ASCII text under the token contract of analytics/terms/tokens.py. For ASCII the contract
 *      (lowercase; a token is [^\W_]+(?:'[^\W_]+)*) reduces to bytes: A-Z lowercase to a-z, a-z
 *      and 0-9 are token bytes, every other byte separates, and an apostrophe joins two runs of
 *      token bytes when both of its neighbours in the row are token bytes (the regex is greedy).
 *   1  tokens already cut by the contract itself (Python's re, for text with other letters),
 *      joined by '\n' (never part of a token); counted byte for byte.
 *   2  null text: no tokens;
 *   3  as 0, but the row's bytes are in `extra` (text rewritten before counting).
 * Rows in mode 1 are in `extra` too.
 *
 * Arguments (buffers, read only):
 *   data, extra  uint8  the rows' bytes: row r is buf[starts[r]:ends[r]], buf = extra for
 *                       modes 1 and 3, data otherwise;
 *   starts, ends int64  n_rows each;
 *   groups       int64  n_rows group ids >= 0; documents ascending (rows of a document
 *                       contiguous, its scopes may interleave);
 *   modes        uint8  n_rows, 0 to 3 as above;
 *   cell_of_doc  int64  the cell (run, step, environment) id of each document; its length is
 *                       the number of documents (every group // 3 must be below it).
 * Returns a tuple of bytes objects (little-endian arrays):
 *   list_groups int64[L], list_offsets int64[L + 1], terms int32[E], counts int32[E]
 *       per (document, scope) with tokens, ordered by document then scope: its distinct tokens
 *       (index into the batch vocabulary) and their counts, those with count > 1 first, each
 *       part in first-occurrence order;
 *   group_tokens int64[n_docs * 3]   tokens per (document, scope), 0 when none;
 *   step_bins int64[S] (cell * 3 + scope), step_terms int32[S], occurrences int64[S],
 *   docs_with_term int64[S], sum_n2 int64[S], sum_n_tokens int64[S]
 *       sums per (cell, scope, token) over the documents: n, 1, n * n and n * (the document's
 *       tokens in that scope);
 *   vocab_offsets int64[V + 1], vocab_data   the batch vocabulary, UTF-8.
 * tests/test_tokens.py checks the counts against the contract itself on hostile strings.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* How it goes: rows are classified 64 bytes at a time into bit masks (token bytes, apostrophes;
 * newlines in mode 1), the tokens are the runs of ones of a mask, walked with count-trailing-zeros.
 * A token is hashed over 8-byte words of its final bytes (A-Z lowercase to a-z by setting bit 0x20,
 * which leaves a-z, 0-9 and the apostrophe as they are), so identical token strings hash alike in
 * every mode. All per-token state (hash, first word, counts in the current document, last step
 * sums) sits in one record per vocabulary entry. */

/* TOKB[b]: 1 when b is a token byte (0-9, A-Z, a-z). */
static unsigned char TOKB[256];

typedef struct {
    void *p;
    size_t len, cap, item;
} Buf;

static int buf_reserve(Buf *b, size_t extra) {
    if (b->len + extra <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + extra) cap *= 2;
    void *p = realloc(b->p, cap * b->item);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

#define AT(buf, type, i) (((type *)(buf).p)[i])
#define PUSH(buf, type, value) (((type *)(buf).p)[(buf).len++] = (value))

/* One vocabulary entry: its hash, first word (bytes 0-7, zero padded) and length, and per scope
 * its count in the current document and its last step sum. */
typedef struct {
    uint64_t hash, w0;
    uint32_t len;
    int32_t n[3], step[3];
} Term;

/* Sums per (bin, token); key = bin << 32 | token. */
typedef struct {
    uint64_t key;
    int64_t occ, docs, n2, ntok;
} Step;

typedef struct {
    /* vocabulary: arena of token bytes, offsets (n + 1), entries; open addressing over indexes */
    Buf arena, voff, term;
    int32_t *table;
    size_t mask;
    /* the current document's distinct tokens per scope (room for one past every vocabulary entry;
     * their counts are in the entries) and its tokens */
    Buf cur_term[3];
    int64_t cur_tokens[3];
    /* per-document output */
    Buf list_groups, list_offsets, terms, counts;
    int64_t *group_tokens;
    /* per (bin, token) sums and an open-addressing table over them */
    Buf step;
    int32_t *step_table;
    size_t step_mask;
    const int64_t *cell_of_doc;
} State;

static void state_init(State *s) {
    memset(s, 0, sizeof *s);
    s->arena.item = 1;
    s->voff.item = sizeof(int64_t);
    s->term.item = sizeof(Term);
    for (int k = 0; k < 3; k++) s->cur_term[k].item = sizeof(int32_t);
    s->list_groups.item = s->list_offsets.item = sizeof(int64_t);
    s->terms.item = s->counts.item = sizeof(int32_t);
    s->step.item = sizeof(Step);
}

static void state_free(State *s) {
    Buf *bufs[] = {&s->arena, &s->voff,  &s->term,   &s->list_groups, &s->list_offsets,
                   &s->terms, &s->counts, &s->step};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]->p);
    for (int k = 0; k < 3; k++) {
        free(s->cur_term[k].p);
    }
    free(s->table);
    free(s->group_tokens);
    free(s->step_table);
}

/* ---- words and hashing -------------------------------------------------------------------- */

static inline uint64_t load8(const unsigned char *p) { /* 8 bytes, byte 0 lowest */
    uint64_t w;
    memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* The first k (1..8) bytes at p as a word, zero padded; never reads at or past `stop`. */
static inline uint64_t load_part(const unsigned char *p, size_t k, const unsigned char *stop) {
    if (stop - p >= 8) return k == 8 ? load8(p) : load8(p) & ((1ULL << (8 * k)) - 1);
    uint64_t w = 0;
    for (size_t i = 0; i < k; i++) w |= (uint64_t)p[i] << (8 * i);
    return w;
}

#define LOWER 0x2020202020202020ULL /* A-Z to a-z; a no-op on a-z, 0-9 and '\'' */
#define K1 0x9E3779B97F4A7C15ULL
#define K2 0xff51afd7ed558ccdULL

static inline uint64_t hash_mix(uint64_t h) {
    h ^= h >> 32;
    h *= K2;
    return h ^ (h >> 29);
}

static inline int tail_equal(const unsigned char *a, const unsigned char *t, size_t len, uint64_t lower) {
    /* bytes 8.. of a token of length len > 8: a is the stored copy, t the row's bytes */
    size_t k = 8;
    for (; k + 8 <= len; k += 8)
        if (load8(a + k) != (load8(t + k) | lower)) return 0;
    for (; k < len; k++)
        if (a[k] != (unsigned char)(t[k] | (unsigned char)lower)) return 0;
    return 1;
}

/* ---- vocabulary ---------------------------------------------------------------------------- */

/* Every bit of the key reaches the low bits the tables index by: with a plain multiplicative
 * hash, key bits above the table's index bits (the bin of bin << 32 | token) were dropped, so
 * keys of one token over many bins piled into a few probe runs (quadratic inserts). */
static inline size_t step_hash(uint64_t key) {
    key ^= key >> 33;
    key *= K2;
    key ^= key >> 33;
    key *= 0xc4ceb9fe1a85ec53ULL;
    return (size_t)(key ^ (key >> 33));
}

/* (Re)build an open-addressing index of `size` slots (a power of two) over n items: item i's
 * 64-bit hash is the uint64 at items + i * stride, passed through step_hash when `mix` (the
 * item holds a raw key). Every table of this file (vocabulary, step sums, Sums, Ids) uses it. */
static int table_rebuild(int32_t **table, size_t *mask, size_t size, size_t n, const void *items, size_t stride,
                         int mix) {
    int32_t *t = malloc(size * sizeof(int32_t));
    if (!t) return -1;
    memset(t, 0xff, size * sizeof(int32_t));
    for (size_t i = 0; i < n; i++) {
        uint64_t h;
        memcpy(&h, (const unsigned char *)items + i * stride, sizeof h);
        size_t j = (mix ? step_hash(h) : (size_t)h) & (size - 1);
        while (t[j] >= 0) j = (j + 1) & (size - 1);
        t[j] = (int32_t)i;
    }
    free(*table);
    *table = t;
    *mask = size - 1;
    return 0;
}

static int vocab_rehash(State *s, size_t size) {
    return table_rebuild(&s->table, &s->mask, size, s->term.len, (const unsigned char *)s->term.p + offsetof(Term, hash),
                         sizeof(Term), 0);
}

/* Add the token t[0:len) (hash h, first word w0) to the vocabulary at table slot j (see
 * vocab_index); its index, -1 = out of memory, -2 = too many tokens. */
static int64_t vocab_add(State *s, const unsigned char *t, size_t len, uint64_t lower, uint64_t h, uint64_t w0,
                         size_t j) {
    size_t n = s->term.len;
    if (n >= INT32_MAX - 2 || len > UINT32_MAX) return -2;
    if (buf_reserve(&s->arena, len) || buf_reserve(&s->voff, 1) || buf_reserve(&s->term, 1)) return -1;
    for (int k = 0; k < 3; k++) /* count_token writes one past the current entries */
        if (buf_reserve(&s->cur_term[k], n + 2 - s->cur_term[k].len)) return -1;
    unsigned char *dst = (unsigned char *)s->arena.p + s->arena.len;
    for (size_t k = 0; k < len; k++) dst[k] = t[k] | (unsigned char)lower;
    s->arena.len += len;
    PUSH(s->voff, int64_t, (int64_t)s->arena.len);
    Term e = {h, w0, (uint32_t)len, {0, 0, 0}, {-1, -1, -1}};
    PUSH(s->term, Term, e);
    s->table[j] = (int32_t)n;
    if ((n + 1) * 2 > s->mask + 1 && vocab_rehash(s, (s->mask + 1) * 2)) return -1;
    return (int64_t)n;
}

/* Index of the token t[0:len) in the vocabulary (added if new): its bytes with bit 0x20 set
 * when lower == LOWER (modes 0 and 3), as they are when lower == 0. `stop` ends the buffer.
 * -1 = out of memory, -2 = too many tokens. */
static inline int64_t vocab_index(State *s, const unsigned char *t, size_t len, const unsigned char *stop,
                                  uint64_t lower) {
    uint64_t w0 = len >= 8 ? load8(t) | lower : (load_part(t, len, stop) | lower) & ((1ULL << (8 * len)) - 1);
    uint64_t h = w0 * K1 ^ len;
    for (size_t k = 8; k < len; k += 8) {
        size_t r = len - k;
        uint64_t w = r >= 8 ? load8(t + k) | lower : (load_part(t + k, r, stop) | lower) & ((1ULL << (8 * r)) - 1);
        h = ((h << 31 | h >> 33) ^ w) * K1;
    }
    h = hash_mix(h);
    const Term *terms = s->term.p;
    size_t j = h & s->mask;
    for (;;) {
        int32_t idx = s->table[j];
        if (idx < 0) return vocab_add(s, t, len, lower, h, w0, j);
        const Term *e = &terms[idx];
        if (e->hash == h && e->w0 == w0 && e->len == len &&
            (len <= 8 || tail_equal((const unsigned char *)s->arena.p + AT(s->voff, int64_t, idx), t, len, lower)))
            return idx;
        j = (j + 1) & s->mask;
    }
}

/* ---- per (bin, token) sums ---------------------------------------------------------------- */


static int step_rehash(State *s, size_t size) {
    return table_rebuild(&s->step_table, &s->step_mask, size, s->step.len,
                         (const unsigned char *)s->step.p + offsetof(Step, key), sizeof(Step), 1);
}

/* The sums of (bin, term) in scope k, from the term's last one when the bin is the same
 * (consecutive documents mostly share a cell), else through the hash table (added if new). */
static inline int step_add(State *s, int k, int64_t bin, int32_t term, int64_t n, int64_t tokens) {
    uint64_t key = ((uint64_t)bin << 32) | (uint32_t)term;
    Term *e = &AT(s->term, Term, term);
    int32_t idx = e->step[k];
    if (idx < 0 || AT(s->step, Step, idx).key != key) {
        size_t j = step_hash(key) & s->step_mask;
        for (;;) {
            idx = s->step_table[j];
            if (idx < 0 || AT(s->step, Step, idx).key == key) break;
            j = (j + 1) & s->step_mask;
        }
        if (idx < 0) {
            if (s->step.len >= INT32_MAX - 1) return -2;
            if (buf_reserve(&s->step, 1)) return -1;
            idx = (int32_t)s->step.len;
            Step st = {key, 0, 0, 0, 0};
            PUSH(s->step, Step, st);
            s->step_table[j] = idx;
            if (s->step.len * 2 > s->step_mask + 1 && step_rehash(s, (s->step_mask + 1) * 2)) return -1;
        }
        e->step[k] = idx;
    }
    Step *st = &AT(s->step, Step, idx);
    st->occ += n;
    st->docs += 1;
    st->n2 += n * n;
    st->ntok += n * tokens;
    return 0;
}

/* ---- documents ---------------------------------------------------------------------------- */

static int flush_document(State *s, int64_t doc) {
    int64_t cell = s->cell_of_doc[doc];
    Term *vocab = s->term.p;
    for (int k = 0; k < 3; k++) {
        size_t m = s->cur_term[k].len;
        if (!m) continue;
        const int32_t *terms = s->cur_term[k].p;
        int64_t tokens = s->cur_tokens[k];
        s->group_tokens[doc * 3 + k] = tokens;
        if (buf_reserve(&s->list_groups, 1) || buf_reserve(&s->list_offsets, 1) || buf_reserve(&s->terms, m) ||
            buf_reserve(&s->counts, m))
            return -1;
        PUSH(s->list_groups, int64_t, doc * 3 + k);
        /* the list: tokens occurring more than once first, then those occurring once, each in
         * first-occurrence order (the store keeps only the leading counts: migration 0007) */
        int32_t *out_terms = (int32_t *)s->terms.p + s->terms.len;
        int32_t *counts = (int32_t *)s->counts.p + s->counts.len;
        size_t multi = 0;
        for (size_t i = 0; i < m; i++) multi += vocab[terms[i]].n[k] > 1;
        size_t front = 0, back = multi;
        s->terms.len += m;
        s->counts.len += m;
        PUSH(s->list_offsets, int64_t, (int64_t)s->terms.len);
        int64_t bin = cell * 3 + k;
        for (size_t i = 0; i < m; i++) {
            int32_t n = vocab[terms[i]].n[k];
            vocab[terms[i]].n[k] = 0;
            size_t at = n > 1 ? front++ : back++;
            out_terms[at] = terms[i];
            counts[at] = n;
            int rc = step_add(s, k, bin, terms[i], n, tokens);
            if (rc) return rc;
        }
        s->cur_term[k].len = 0;
        s->cur_tokens[k] = 0;
    }
    return 0;
}

/* Count the token t[0:len) in the current document and scope (see vocab_index). */
static inline int count_token(State *s, int scope, const unsigned char *t, size_t len, const unsigned char *stop,
                              uint64_t lower) {
    int64_t i = vocab_index(s, t, len, stop, lower);
    if (i < 0) return (int)i;
    Term *e = &AT(s->term, Term, i);
    Buf *ct = &s->cur_term[scope];
    int32_t n = e->n[scope];
    e->n[scope] = n + 1;
    s->cur_tokens[scope]++;
    /* branch free: the entry is written in any case and kept when the token is new in the document */
    ((int32_t *)ct->p)[ct->len] = (int32_t)i;
    ct->len += n == 0;
    return 0;
}

/* ---- scanning ------------------------------------------------------------------------------- */

static inline uint64_t ctz64(uint64_t x) { /* x != 0 */
#if defined(__GNUC__)
    return (uint64_t)__builtin_ctzll(x);
#else
    uint64_t n = 0;
    while (!(x & 1)) x >>= 1, n++;
    return n;
#endif
}

/* Bit masks of the 64 bytes at p: token bytes (*tok), apostrophes (*apo), newlines (*nl). */
static inline void classify64(const unsigned char *p, uint64_t *tok, uint64_t *apo, uint64_t *nl) {
#if defined(__SSE2__)
    uint64_t t = 0, a = 0, l = 0;
    for (int c = 0; c < 4; c++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * c));
        /* unsigned range checks as signed ones: x + (0x80 - lo) < -128 + width */
        __m128i digit = _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8(0x50)), _mm_set1_epi8(-118));
        __m128i low = _mm_or_si128(v, _mm_set1_epi8(0x20));
        __m128i letter = _mm_cmplt_epi8(_mm_add_epi8(low, _mm_set1_epi8(0x1f)), _mm_set1_epi8(-102));
        t |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_or_si128(digit, letter)) << (16 * c);
        a |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\''))) << (16 * c);
        l |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n'))) << (16 * c);
    }
    *tok = t, *apo = a, *nl = l;
#else
    uint64_t t = 0, a = 0, l = 0;
    for (int i = 0; i < 64; i++) {
        t |= (uint64_t)TOKB[p[i]] << i;
        a |= (uint64_t)(p[i] == '\'') << i;
        l |= (uint64_t)(p[i] == '\n') << i;
    }
    *tok = t, *apo = a, *nl = l;
#endif
}

/* Count the tokens of row buf[i:e) (buf has n bytes): runs of token bytes joined by apostrophes
 * with token bytes on both sides (raw == 0), or the runs between newlines (raw == 1). */
static inline int scan_row(State *s, int scope, const unsigned char *buf, size_t n, size_t i,
                           size_t e, int raw) {
    const unsigned char *stop = buf + n;
    uint64_t lower = raw ? 0 : LOWER;
    uint64_t prev = 0;           /* token bit of the byte before the block */
    size_t pend = (size_t)-1;    /* start of a token running on from the previous block */
    int rc;
    for (size_t p = i; p < e; p += 64) {
        uint64_t tok, apo, nl, w;
        const unsigned char *q = buf + p;
        unsigned char pad[64];
        if (n - p < 64) { /* the buffer's last bytes: classify a zero-padded copy */
            memset(pad, 0, 64);
            for (size_t k = 0; k < n - p; k++) pad[k] = q[k];
            q = pad;
        }
        classify64(q, &tok, &apo, &nl);
        size_t left = e - p;
        uint64_t live = left >= 64 ? ~0ULL : (1ULL << left) - 1;
        if (raw) {
            w = ~nl & live;
        } else {
            tok &= live;
            uint64_t next = left > 64 ? TOKB[buf[p + 64]] : 0;
            w = tok | (apo & ((tok << 1) | prev) & ((tok >> 1) | (next << 63)));
            prev = tok >> 63;
        }
        if (pend != (size_t)-1) { /* the run from the previous block ends at the first zero */
            if (!~w) continue;
            uint64_t t = ctz64(~w);
            if ((rc = count_token(s, scope, buf + pend, p + t - pend, stop, lower))) return rc;
            pend = (size_t)-1;
            w &= ~0ULL << t;
        }
        while (w) {
            uint64_t a = ctz64(w), r = ~(w >> a); /* r: zero bits of the run from a */
            if (!r || a + ctz64(r) >= 64) {
                pend = p + a;
                break;
            }
            uint64_t b = a + ctz64(r);
            if ((rc = count_token(s, scope, buf + p + a, b - a, stop, lower))) return rc;
            w &= ~0ULL << b;
        }
    }
    if (pend != (size_t)-1) return count_token(s, scope, buf + pend, e - pend, stop, lower);
    return 0;
}

static int count_rows(State *s, const unsigned char *main_data, size_t main_len, const unsigned char *extra,
                      size_t extra_len, const int64_t *starts, const int64_t *ends, const int64_t *groups,
                      const unsigned char *modes, Py_ssize_t n_rows) {
    int64_t cur_doc = -1;
    int rc;
    for (Py_ssize_t r = 0; r < n_rows; r++) {
        int64_t doc = groups[r] / 3;
        int scope = (int)(groups[r] % 3);
        if (doc != cur_doc) {
            if (doc < cur_doc) return -3;
            if (cur_doc >= 0 && (rc = flush_document(s, cur_doc))) return rc;
            cur_doc = doc;
        }
        size_t i = (size_t)starts[r], e = (size_t)ends[r];
        unsigned char mode = modes[r];
        if (mode == 2) continue; /* null text */
        if (mode == 1) rc = scan_row(s, scope, extra, extra_len, i, e, 1);
        else if (mode == 3) rc = scan_row(s, scope, extra, extra_len, i, e, 0);
        else rc = scan_row(s, scope, main_data, main_len, i, e, 0);
        if (rc) return rc;
    }
    if (cur_doc >= 0 && (rc = flush_document(s, cur_doc))) return rc;
    return 0;
}

/* ---- Python ------------------------------------------------------------------------------- */

static PyObject *bytes_of(const Buf *b) {
    return PyBytes_FromStringAndSize(b->p ? (const char *)b->p : "", (Py_ssize_t)(b->len * b->item));
}

static PyObject *count_batch(PyObject *self, PyObject *args) {
    Py_buffer data, extra, starts, ends, groups, modes, cells;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*", &data, &extra, &starts, &ends, &groups, &modes, &cells)) return NULL;
    PyObject *result = NULL;
    State s;
    state_init(&s);
    Buf cols[6];
    memset(cols, 0, sizeof cols);
    Py_ssize_t n_rows = groups.len / (Py_ssize_t)sizeof(int64_t);
    Py_ssize_t n_docs = cells.len / (Py_ssize_t)sizeof(int64_t);
    const int64_t *st = starts.buf, *en = ends.buf, *grp = groups.buf, *cell = cells.buf;
    const unsigned char *md = modes.buf;
    if (groups.len % (Py_ssize_t)sizeof(int64_t) || cells.len % (Py_ssize_t)sizeof(int64_t)) {
        PyErr_SetString(PyExc_ValueError, "count_batch: groups and cell_of_doc must be int64 arrays");
        goto done;
    }
    if (starts.len != n_rows * (Py_ssize_t)sizeof(int64_t) || ends.len != starts.len || modes.len != n_rows) {
        PyErr_SetString(PyExc_ValueError, "count_batch: starts, ends and modes must have one value per row");
        goto done;
    }
    for (Py_ssize_t r = 0; r < n_rows; r++) {
        Py_ssize_t size = (md[r] == 1 || md[r] == 3) ? extra.len : data.len;
        if (md[r] > 3 || st[r] < 0 || st[r] > en[r] || en[r] > size || grp[r] < 0 || grp[r] / 3 >= n_docs) {
            PyErr_Format(PyExc_ValueError, "count_batch: row %zd: bad mode, offsets out of range or group outside the documents", r);
            goto done;
        }
    }
    for (Py_ssize_t d = 0; d < n_docs; d++) {
        if (cell[d] < 0 || cell[d] > (INT64_MAX >> 34)) {
            PyErr_Format(PyExc_ValueError, "count_batch: document %zd: cell id out of range", d);
            goto done;
        }
    }
    s.cell_of_doc = cell;
    int rc = 0;
    s.group_tokens = calloc((size_t)(n_docs * 3 + 1), sizeof(int64_t));
    if (!s.group_tokens || buf_reserve(&s.voff, 1) || buf_reserve(&s.list_offsets, 1)) rc = -1;
    if (!rc) {
        PUSH(s.voff, int64_t, 0); /* an empty vocabulary */
        PUSH(s.list_offsets, int64_t, 0);
        if (vocab_rehash(&s, 1 << 14) || step_rehash(&s, 1 << 14)) rc = -1;
    }
    if (!rc) {
        Py_BEGIN_ALLOW_THREADS
        rc = count_rows(&s, data.buf, (size_t)data.len, extra.buf, (size_t)extra.len, st, en, grp, md, n_rows);
        Py_END_ALLOW_THREADS
    }
    if (rc == -1) {
        PyErr_NoMemory();
        goto done;
    }
    if (rc == -2) {
        PyErr_SetString(PyExc_OverflowError, "count_batch: more than 2**31 distinct tokens in one batch");
        goto done;
    }
    if (rc == -3) {
        PyErr_SetString(PyExc_ValueError, "count_batch: documents must be ascending (rows of one document contiguous)");
        goto done;
    }
    /* split the step sums into columns: bins, tokens, occurrences, documents, n * n, n * tokens */
    size_t S = s.step.len;
    for (int c = 0; c < 6; c++) {
        cols[c].item = c == 1 ? sizeof(int32_t) : sizeof(int64_t);
        if (buf_reserve(&cols[c], S + 1)) {
            PyErr_NoMemory();
            goto done;
        }
    }
    for (size_t i = 0; i < S; i++) {
        const Step *p = &AT(s.step, Step, i);
        PUSH(cols[0], int64_t, (int64_t)(p->key >> 32));
        PUSH(cols[1], int32_t, (int32_t)(p->key & 0xffffffffu));
        PUSH(cols[2], int64_t, p->occ);
        PUSH(cols[3], int64_t, p->docs);
        PUSH(cols[4], int64_t, p->n2);
        PUSH(cols[5], int64_t, p->ntok);
    }
    Buf gt = {s.group_tokens, (size_t)(n_docs * 3), 0, sizeof(int64_t)};
    result = Py_BuildValue("(NNNNNNNNNNNNN)", bytes_of(&s.list_groups), bytes_of(&s.list_offsets), bytes_of(&s.terms),
                           bytes_of(&s.counts), bytes_of(&gt), bytes_of(&cols[0]), bytes_of(&cols[1]),
                           bytes_of(&cols[2]), bytes_of(&cols[3]), bytes_of(&cols[4]), bytes_of(&cols[5]),
                           bytes_of(&s.voff), bytes_of(&s.arena));
done:
    for (int c = 0; c < 6; c++) free(cols[c].p);
    state_free(&s);
    PyBuffer_Release(&data);
    PyBuffer_Release(&extra);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&ends);
    PyBuffer_Release(&groups);
    PyBuffer_Release(&modes);
    PyBuffer_Release(&cells);
    return result;
}


/* ---- Sums: per-key sums across batches (the calling thread's per-commit accumulator) ------- */
/* sums_new() -> capsule; sums_add(capsule, keys, a, b, c, d) adds int64 rows (keys int64 >= 0,
 * four int64 value columns) into a hash table; sums_drain(capsule) -> (keys, a, b, c, d) as bytes
 * (one row per distinct key, in first-seen order) and empties it. analytics.termcounts keys it by
 * (cell * 3 + scope) << 32 | term_id to fold the per-batch step sums of a commit. */

typedef struct {
    Buf key, val; /* int64 keys; 4 int64 values per key */
    int32_t *table;
    size_t mask;
} Sums;

static int sums_rehash(Sums *a, size_t size) {
    return table_rebuild(&a->table, &a->mask, size, a->key.len, a->key.p, sizeof(uint64_t), 1);
}

static void sums_destroy(PyObject *capsule) {
    Sums *a = PyCapsule_GetPointer(capsule, "cotwatch.sums");
    if (!a) return;
    free(a->key.p);
    free(a->val.p);
    free(a->table);
    free(a);
}

static Sums *sums_of(PyObject *capsule) { return PyCapsule_GetPointer(capsule, "cotwatch.sums"); }

static PyObject *sums_new(PyObject *self, PyObject *args) {
    Sums *a = calloc(1, sizeof(Sums));
    if (!a) return PyErr_NoMemory();
    a->key.item = sizeof(int64_t);
    a->val.item = 4 * sizeof(int64_t);
    if (sums_rehash(a, 1 << 16)) {
        free(a);
        return PyErr_NoMemory();
    }
    PyObject *capsule = PyCapsule_New(a, "cotwatch.sums", sums_destroy);
    if (!capsule) {
        free(a->table);
        free(a);
    }
    return capsule;
}

static int sums_add_rows(Sums *a, const int64_t *keys, const int64_t *const cols[4], Py_ssize_t n) {
    for (Py_ssize_t r = 0; r < n; r++) {
        uint64_t key = (uint64_t)keys[r];
        size_t j = step_hash(key) & a->mask;
        int32_t idx;
        for (;;) {
            idx = a->table[j];
            if (idx < 0 || AT(a->key, uint64_t, idx) == key) break;
            j = (j + 1) & a->mask;
        }
        if (idx < 0) {
            if (a->key.len >= INT32_MAX - 1) return -2;
            if (buf_reserve(&a->key, 1) || buf_reserve(&a->val, 1)) return -1;
            idx = (int32_t)a->key.len;
            PUSH(a->key, uint64_t, key);
            memset((int64_t *)a->val.p + 4 * (size_t)idx, 0, 4 * sizeof(int64_t));
            a->val.len++;
            a->table[j] = idx;
            if (a->key.len * 2 > a->mask + 1 && sums_rehash(a, (a->mask + 1) * 2)) return -1;
        }
        int64_t *v = (int64_t *)a->val.p + 4 * (size_t)idx;
        /* wrapping (two's complement) sums: signed overflow would be undefined behaviour */
        for (int c = 0; c < 4; c++) v[c] = (int64_t)((uint64_t)v[c] + (uint64_t)cols[c][r]);
    }
    return 0;
}

static PyObject *sums_add(PyObject *self, PyObject *args) {
    PyObject *capsule;
    Py_buffer keys, c0, c1, c2, c3;
    if (!PyArg_ParseTuple(args, "Oy*y*y*y*y*", &capsule, &keys, &c0, &c1, &c2, &c3)) return NULL;
    Sums *a = sums_of(capsule);
    PyObject *result = NULL;
    Py_ssize_t n = keys.len / (Py_ssize_t)sizeof(int64_t);
    if (!a) goto done;
    if (keys.len % (Py_ssize_t)sizeof(int64_t) || c0.len != keys.len || c1.len != keys.len || c2.len != keys.len ||
        c3.len != keys.len) {
        PyErr_SetString(PyExc_ValueError, "sums_add: keys and the four value columns must be int64 of one length");
        goto done;
    }
    for (Py_ssize_t r = 0; r < n; r++) {
        if (((const int64_t *)keys.buf)[r] < 0) {
            PyErr_SetString(PyExc_ValueError, "sums_add: negative key");
            goto done;
        }
    }
    const int64_t *const cols[4] = {c0.buf, c1.buf, c2.buf, c3.buf};
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = sums_add_rows(a, keys.buf, cols, n);
    Py_END_ALLOW_THREADS
    if (rc == -1) PyErr_NoMemory();
    else if (rc == -2) PyErr_SetString(PyExc_OverflowError, "sums_add: more than 2**31 distinct keys");
    else result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&keys);
    PyBuffer_Release(&c0);
    PyBuffer_Release(&c1);
    PyBuffer_Release(&c2);
    PyBuffer_Release(&c3);
    return result;
}

static PyObject *sums_drain(PyObject *self, PyObject *args) {
    PyObject *capsule;
    if (!PyArg_ParseTuple(args, "O", &capsule)) return NULL;
    Sums *a = sums_of(capsule);
    if (!a) return NULL;
    size_t n = a->key.len;
    PyObject *cols[4] = {NULL, NULL, NULL, NULL};
    for (int c = 0; c < 4; c++) {
        cols[c] = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * sizeof(int64_t)));
        if (!cols[c]) {
            for (int k = 0; k < c; k++) Py_DECREF(cols[k]);
            return NULL;
        }
        int64_t *out = (int64_t *)PyBytes_AS_STRING(cols[c]);
        const int64_t *v = a->val.p;
        for (size_t i = 0; i < n; i++) out[i] = v[4 * i + c];
    }
    PyObject *result = Py_BuildValue("(NNNNN)", bytes_of(&a->key), cols[0], cols[1], cols[2], cols[3]);
    a->key.len = 0;
    a->val.len = 0;
    memset(a->table, 0xff, (a->mask + 1) * sizeof(int32_t));
    return result;
}


/* ---- Ids: term bytes -> int64 id (the calling thread's map of term_vocab) ------------------- */
/* ids_new() -> capsule; ids_get(capsule, offsets, data) -> int64 bytes, the id of each string
 * (int32 Arrow offsets, n + 1 of them, into data) or -1; ids_put(capsule, offsets, data, ids)
 * adds strings with their ids (a string already present keeps its id). */

typedef struct {
    Buf arena, off, hash, id; /* bytes; int64 offsets (n + 1); uint64 hashes; int64 ids */
    int32_t *table;
    size_t mask;
} Ids;

static inline uint64_t bytes_hash(const unsigned char *p, size_t len) {
    uint64_t h = 1469598103934665603ULL ^ len;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static int ids_rehash(Ids *m, size_t size) {
    return table_rebuild(&m->table, &m->mask, size, m->hash.len, m->hash.p, sizeof(uint64_t), 0);
}

static void ids_destroy(PyObject *capsule) {
    Ids *m = PyCapsule_GetPointer(capsule, "cotwatch.ids");
    if (!m) return;
    free(m->arena.p);
    free(m->off.p);
    free(m->hash.p);
    free(m->id.p);
    free(m->table);
    free(m);
}

static PyObject *ids_new(PyObject *self, PyObject *args) {
    Ids *m = calloc(1, sizeof(Ids));
    if (!m) return PyErr_NoMemory();
    m->arena.item = 1;
    m->off.item = m->hash.item = m->id.item = sizeof(int64_t);
    /* the arena is never NULL: an empty string at offset 0 of an empty arena would pass NULL
     * to memcpy / memcmp (undefined even for 0 bytes) */
    if (buf_reserve(&m->off, 1) || buf_reserve(&m->arena, 1) || ids_rehash(m, 1 << 16)) {
        free(m->off.p);
        free(m->arena.p);
        free(m);
        return PyErr_NoMemory();
    }
    PUSH(m->off, int64_t, 0);
    PyObject *capsule = PyCapsule_New(m, "cotwatch.ids", ids_destroy);
    if (!capsule) {
        free(m->off.p);
        free(m->arena.p);
        free(m->table);
        free(m);
    }
    return capsule;
}

/* slot of the string p[0:len) in the table: its index there is >= 0 when present */
static inline size_t ids_slot(const Ids *m, const unsigned char *p, size_t len, uint64_t h) {
    size_t j = h & m->mask;
    for (;;) {
        int32_t idx = m->table[j];
        if (idx < 0) return j;
        const int64_t *off = m->off.p;
        if (AT(m->hash, uint64_t, idx) == h && (size_t)(off[idx + 1] - off[idx]) == len &&
            memcmp((const unsigned char *)m->arena.p + off[idx], p, len) == 0)
            return j;
        j = (j + 1) & m->mask;
    }
}

static int ids_check(Py_buffer *offsets, Py_buffer *data, Py_ssize_t *n) {
    *n = offsets->len / (Py_ssize_t)sizeof(int32_t) - 1;
    const int32_t *o = offsets->buf;
    if (*n < 0 || offsets->len % (Py_ssize_t)sizeof(int32_t)) goto bad;
    for (Py_ssize_t i = 0; i < *n; i++)
        if (o[i] < 0 || o[i] > o[i + 1] || o[i + 1] > data->len) goto bad;
    return 0;
bad:
    PyErr_SetString(PyExc_ValueError, "ids: offsets must be n + 1 ascending int32 values within data");
    return -1;
}

static PyObject *ids_get(PyObject *self, PyObject *args) {
    PyObject *capsule;
    Py_buffer offsets, data;
    if (!PyArg_ParseTuple(args, "Oy*y*", &capsule, &offsets, &data)) return NULL;
    PyObject *result = NULL;
    Ids *m = PyCapsule_GetPointer(capsule, "cotwatch.ids");
    Py_ssize_t n;
    if (m && !ids_check(&offsets, &data, &n)) {
        result = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t));
        if (result) {
            int64_t *out = (int64_t *)PyBytes_AS_STRING(result);
            const int32_t *o = offsets.buf;
            const unsigned char *d = data.buf;
            Py_BEGIN_ALLOW_THREADS
            for (Py_ssize_t i = 0; i < n; i++) {
                size_t len = (size_t)(o[i + 1] - o[i]);
                int32_t idx = m->table[ids_slot(m, d + o[i], len, bytes_hash(d + o[i], len))];
                out[i] = idx < 0 ? -1 : AT(m->id, int64_t, idx);
            }
            Py_END_ALLOW_THREADS
        }
    }
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&data);
    return result;
}

static PyObject *ids_put(PyObject *self, PyObject *args) {
    PyObject *capsule;
    Py_buffer offsets, data, ids;
    if (!PyArg_ParseTuple(args, "Oy*y*y*", &capsule, &offsets, &data, &ids)) return NULL;
    PyObject *result = NULL;
    Ids *m = PyCapsule_GetPointer(capsule, "cotwatch.ids");
    Py_ssize_t n;
    if (!m || ids_check(&offsets, &data, &n)) goto done;
    if (ids.len != n * (Py_ssize_t)sizeof(int64_t)) {
        PyErr_SetString(PyExc_ValueError, "ids_put: one int64 id per string");
        goto done;
    }
    const int32_t *o = offsets.buf;
    const unsigned char *d = data.buf;
    const int64_t *id = ids.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        size_t len = (size_t)(o[i + 1] - o[i]);
        uint64_t h = bytes_hash(d + o[i], len);
        size_t j = ids_slot(m, d + o[i], len, h);
        if (m->table[j] >= 0) continue;
        if (m->hash.len >= INT32_MAX - 1) {
            PyErr_SetString(PyExc_OverflowError, "ids_put: more than 2**31 strings");
            goto done;
        }
        if (buf_reserve(&m->arena, len) || buf_reserve(&m->off, 1) || buf_reserve(&m->hash, 1) ||
            buf_reserve(&m->id, 1)) {
            PyErr_NoMemory();
            goto done;
        }
        memcpy((unsigned char *)m->arena.p + m->arena.len, d + o[i], len);
        m->arena.len += len;
        PUSH(m->off, int64_t, (int64_t)m->arena.len);
        m->table[j] = (int32_t)m->hash.len;
        PUSH(m->hash, uint64_t, h);
        PUSH(m->id, int64_t, id[i]);
        if (m->hash.len * 2 > m->mask + 1 && ids_rehash(m, (m->mask + 1) * 2)) {
            PyErr_NoMemory();
            goto done;
        }
    }
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&data);
    PyBuffer_Release(&ids);
    return result;
}

static PyMethodDef methods[] = {
    {"ids_new", ids_new, METH_NOARGS, "ids_new() -> an empty string -> id map (a capsule)."},
    {"ids_get", ids_get, METH_VARARGS, "ids_get(map, offsets, data) -> int64 bytes: each string's id or -1."},
    {"ids_put", ids_put, METH_VARARGS, "ids_put(map, offsets, data, ids): add strings with their ids."},
    {"sums_new", sums_new, METH_NOARGS, "sums_new() -> an empty per-key sum table (a capsule)."},
    {"sums_add", sums_add, METH_VARARGS, "sums_add(table, keys, a, b, c, d): add int64 rows (keys >= 0)."},
    {"sums_drain", sums_drain, METH_VARARGS, "sums_drain(table) -> (keys, a, b, c, d) bytes, one row per key; empties it."},
    {"count_batch", count_batch, METH_VARARGS,
     "count_batch(data, extra, starts, ends, groups, modes, cell_of_doc) -> 13 bytes objects (see analytics/terms/_tokcount.c): "
     "per-(document, scope) token counts and per-(cell, scope, token) sums under the token contract."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_tokcount", NULL, -1, methods};

PyMODINIT_FUNC PyInit__tokcount(void) {
    for (int c = 0; c < 256; c++)
        TOKB[c] = (unsigned char)((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
    return PyModule_Create(&module);
}
