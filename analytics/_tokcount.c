/* analytics._tokcount — the counting kernel of analytics.termcounts, compiled.
 *
 * count_batch(data, extra, starts, ends, groups, modes, cell_of_doc) counts the tokens of a batch of rows per
 * group, where a group is (document, scope) = (group // 3, group % 3), and sums them per
 * (cell, scope, token) for the store's step tables, in one pass with one hash table of the
 * batch's tokens. Rows come in two modes:
 *
 *   0  ASCII text under the token contract of analytics/tokens.py. For ASCII the contract
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
 *       (index into the batch vocabulary, in first-occurrence order) and their counts;
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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* MAP[b]: the token byte b lowercases to (a-z, 0-9), '\'' for the apostrophe, 0 otherwise. */
static unsigned char MAP[256];

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

typedef struct {
    /* vocabulary: arena of token bytes, offsets (n + 1), hashes; open addressing over indexes */
    Buf arena, voff, hash;
    int32_t *table;
    size_t mask;
    /* per (scope, token): the last document that used it, and its entry's slot there */
    int64_t *stamp[3];
    int32_t *slot[3];
    size_t stamp_cap;
    /* the current document's entries per scope */
    Buf cur_term[3], cur_n[3];
    /* per-document output */
    Buf list_groups, list_offsets, terms, counts;
    int64_t *group_tokens;
    /* per (bin, token) sums: keys and an open-addressing table over them */
    Buf step_key, step_occ, step_docs, step_n2, step_ntok;
    int32_t *step_table;
    size_t step_mask;
    const int64_t *cell_of_doc;
} State;

static void state_init(State *s) {
    memset(s, 0, sizeof *s);
    s->arena.item = 1;
    s->voff.item = s->hash.item = sizeof(int64_t);
    for (int k = 0; k < 3; k++) s->cur_term[k].item = s->cur_n[k].item = sizeof(int32_t);
    s->list_groups.item = s->list_offsets.item = sizeof(int64_t);
    s->terms.item = s->counts.item = sizeof(int32_t);
    s->step_key.item = s->step_occ.item = s->step_docs.item = sizeof(int64_t);
    s->step_n2.item = s->step_ntok.item = sizeof(int64_t);
}

static void state_free(State *s) {
    Buf *bufs[] = {&s->arena, &s->voff, &s->hash, &s->list_groups, &s->list_offsets, &s->terms,
                   &s->counts, &s->step_key, &s->step_occ, &s->step_docs, &s->step_n2, &s->step_ntok};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]->p);
    for (int k = 0; k < 3; k++) {
        free(s->stamp[k]);
        free(s->slot[k]);
        free(s->cur_term[k].p);
        free(s->cur_n[k].p);
    }
    free(s->table);
    free(s->group_tokens);
    free(s->step_table);
}

/* ---- vocabulary ---------------------------------------------------------------------------- */

static int vocab_rehash(State *s, size_t size) {
    int32_t *t = malloc(size * sizeof(int32_t));
    if (!t) return -1;
    memset(t, 0xff, size * sizeof(int32_t));
    size_t mask = size - 1, n = s->voff.len - 1;
    for (size_t i = 0; i < n; i++) {
        size_t j = AT(s->hash, uint64_t, i) & mask;
        while (t[j] >= 0) j = (j + 1) & mask;
        t[j] = (int32_t)i;
    }
    free(s->table);
    s->table = t;
    s->mask = mask;
    return 0;
}

static int stamps_grow(State *s, size_t need) {
    if (need <= s->stamp_cap) return 0;
    size_t cap = s->stamp_cap ? s->stamp_cap : 4096;
    while (cap < need) cap *= 2;
    for (int k = 0; k < 3; k++) {
        int64_t *st = realloc(s->stamp[k], cap * sizeof(int64_t));
        if (!st) return -1;
        s->stamp[k] = st;
        for (size_t i = s->stamp_cap; i < cap; i++) st[i] = -1;
        int32_t *sl = realloc(s->slot[k], cap * sizeof(int32_t));
        if (!sl) return -1;
        s->slot[k] = sl;
    }
    s->stamp_cap = cap;
    return 0;
}

/* Index of the token data[start:end) in the vocabulary (added if new): the bytes mapped through
 * MAP when raw == 0, as they are when raw == 1. -1 = out of memory, -2 = too many tokens. */
static inline int64_t vocab_index(State *s, const unsigned char *data, size_t start, size_t end, uint64_t h,
                                  int raw) {
    size_t len = end - start;
    const int64_t *voff = s->voff.p;
    const uint64_t *hashes = s->hash.p;
    const unsigned char *arena = s->arena.p;
    size_t j = h & s->mask;
    for (;;) {
        int32_t idx = s->table[j];
        if (idx < 0) break;
        if (hashes[idx] == h && (size_t)(voff[idx + 1] - voff[idx]) == len) {
            const unsigned char *a = arena + voff[idx];
            size_t k = 0;
            if (raw) {
                if (memcmp(a, data + start, len) == 0) return idx;
            } else {
                while (k < len && a[k] == MAP[data[start + k]]) k++;
                if (k == len) return idx;
            }
        }
        j = (j + 1) & s->mask;
    }
    size_t n = s->voff.len - 1;
    if (n >= INT32_MAX - 1) return -2;
    if (buf_reserve(&s->arena, len) || buf_reserve(&s->voff, 1) || buf_reserve(&s->hash, 1)) return -1;
    unsigned char *dst = (unsigned char *)s->arena.p + s->arena.len;
    if (raw) memcpy(dst, data + start, len);
    else
        for (size_t k = 0; k < len; k++) dst[k] = MAP[data[start + k]];
    s->arena.len += len;
    PUSH(s->voff, int64_t, (int64_t)s->arena.len);
    PUSH(s->hash, uint64_t, h);
    s->table[j] = (int32_t)n;
    if ((n + 1) * 2 > s->mask + 1 && vocab_rehash(s, (s->mask + 1) * 2)) return -1;
    if (stamps_grow(s, n + 1)) return -1;
    return (int64_t)n;
}

/* ---- per (bin, token) sums ---------------------------------------------------------------- */

static inline size_t step_hash(uint64_t key) { return (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 20); }

static int step_rehash(State *s, size_t size) {
    int32_t *t = malloc(size * sizeof(int32_t));
    if (!t) return -1;
    memset(t, 0xff, size * sizeof(int32_t));
    size_t mask = size - 1;
    for (size_t i = 0; i < s->step_key.len; i++) {
        size_t j = step_hash(AT(s->step_key, uint64_t, i)) & mask;
        while (t[j] >= 0) j = (j + 1) & mask;
        t[j] = (int32_t)i;
    }
    free(s->step_table);
    s->step_table = t;
    s->step_mask = mask;
    return 0;
}

static inline int step_add(State *s, int64_t bin, int32_t term, int64_t n, int64_t tokens) {
    uint64_t key = ((uint64_t)bin << 32) | (uint32_t)term;
    size_t j = step_hash(key) & s->step_mask;
    int32_t idx;
    for (;;) {
        idx = s->step_table[j];
        if (idx < 0 || AT(s->step_key, uint64_t, idx) == key) break;
        j = (j + 1) & s->step_mask;
    }
    if (idx < 0) {
        if (s->step_key.len >= INT32_MAX - 1) return -2;
        if (buf_reserve(&s->step_key, 1) || buf_reserve(&s->step_occ, 1) || buf_reserve(&s->step_docs, 1) ||
            buf_reserve(&s->step_n2, 1) || buf_reserve(&s->step_ntok, 1))
            return -1;
        idx = (int32_t)s->step_key.len;
        PUSH(s->step_key, uint64_t, key);
        PUSH(s->step_occ, int64_t, 0);
        PUSH(s->step_docs, int64_t, 0);
        PUSH(s->step_n2, int64_t, 0);
        PUSH(s->step_ntok, int64_t, 0);
        s->step_table[j] = idx;
        if (s->step_key.len * 2 > s->step_mask + 1 && step_rehash(s, (s->step_mask + 1) * 2)) return -1;
    }
    AT(s->step_occ, int64_t, idx) += n;
    AT(s->step_docs, int64_t, idx) += 1;
    AT(s->step_n2, int64_t, idx) += n * n;
    AT(s->step_ntok, int64_t, idx) += n * tokens;
    return 0;
}

/* ---- documents ---------------------------------------------------------------------------- */

static int flush_document(State *s, int64_t doc) {
    int64_t cell = s->cell_of_doc[doc];
    for (int k = 0; k < 3; k++) {
        size_t m = s->cur_term[k].len;
        if (!m) continue;
        const int32_t *terms = s->cur_term[k].p, *ns = s->cur_n[k].p;
        int64_t tokens = 0;
        for (size_t i = 0; i < m; i++) tokens += ns[i];
        s->group_tokens[doc * 3 + k] = tokens;
        if (buf_reserve(&s->list_groups, 1) || buf_reserve(&s->list_offsets, 1) || buf_reserve(&s->terms, m) ||
            buf_reserve(&s->counts, m))
            return -1;
        PUSH(s->list_groups, int64_t, doc * 3 + k);
        memcpy((int32_t *)s->terms.p + s->terms.len, terms, m * sizeof(int32_t));
        memcpy((int32_t *)s->counts.p + s->counts.len, ns, m * sizeof(int32_t));
        s->terms.len += m;
        s->counts.len += m;
        PUSH(s->list_offsets, int64_t, (int64_t)s->terms.len);
        int64_t bin = cell * 3 + k;
        for (size_t i = 0; i < m; i++) {
            int rc = step_add(s, bin, terms[i], ns[i], tokens);
            if (rc) return rc;
        }
        s->cur_term[k].len = 0;
        s->cur_n[k].len = 0;
    }
    return 0;
}

/* Count one token of the current document and scope. */
static inline int count_token(State *s, int64_t doc, int scope, const unsigned char *data, size_t start, size_t end,
                              uint64_t h, int raw) {
    int64_t t = vocab_index(s, data, start, end, h, raw);
    if (t < 0) return (int)t;
    if (s->stamp[scope][t] == doc) {
        AT(s->cur_n[scope], int32_t, s->slot[scope][t]) += 1;
        return 0;
    }
    Buf *ct = &s->cur_term[scope], *cn = &s->cur_n[scope];
    if (buf_reserve(ct, 1) || buf_reserve(cn, 1)) return -1;
    s->stamp[scope][t] = doc;
    s->slot[scope][t] = (int32_t)ct->len;
    PUSH(*ct, int32_t, (int32_t)t);
    PUSH(*cn, int32_t, 1);
    return 0;
}

#define FNV_OFFSET 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL

static int count_rows(State *s, const unsigned char *main_data, const unsigned char *extra, const int64_t *starts,
                      const int64_t *ends, const int64_t *groups, const unsigned char *modes, Py_ssize_t n_rows) {
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
        const unsigned char *data = (mode == 1 || mode == 3) ? extra : main_data;
        if (mode == 1) { /* pre-cut tokens joined by '\n' */
            while (i < e) {
                size_t start = i;
                uint64_t h = FNV_OFFSET;
                while (i < e && data[i] != '\n') h = (h ^ data[i++]) * FNV_PRIME;
                if (i > start && (rc = count_token(s, doc, scope, data, start, i, h, 1))) return rc;
                i++;
            }
            continue;
        }
        while (i < e) {
            unsigned char m = MAP[data[i]];
            if (!m || m == '\'') {
                i++;
                continue;
            }
            size_t start = i;
            uint64_t h = FNV_OFFSET;
            for (;;) {
                while (i < e && (m = MAP[data[i]]) != 0 && m != '\'') {
                    h = (h ^ m) * FNV_PRIME;
                    i++;
                }
                if (i + 1 < e && data[i] == '\'') {
                    unsigned char nx = MAP[data[i + 1]];
                    if (nx && nx != '\'') {
                        h = (h ^ '\'') * FNV_PRIME;
                        i++;
                        continue;
                    }
                }
                break;
            }
            if ((rc = count_token(s, doc, scope, data, start, i, h, 0))) return rc;
        }
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
    Py_ssize_t n_rows = groups.len / (Py_ssize_t)sizeof(int64_t);
    Py_ssize_t n_docs = cells.len / (Py_ssize_t)sizeof(int64_t);
    const int64_t *st = starts.buf, *en = ends.buf, *grp = groups.buf, *cell = cells.buf;
    const unsigned char *md = modes.buf;
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
        PUSH(s.voff, int64_t, 0); /* an empty vocabulary: n = voff.len - 1 */
        PUSH(s.list_offsets, int64_t, 0);
        if (vocab_rehash(&s, 1 << 14) || stamps_grow(&s, 1 << 12) || step_rehash(&s, 1 << 14)) rc = -1;
    }
    if (!rc) {
        Py_BEGIN_ALLOW_THREADS
        rc = count_rows(&s, data.buf, extra.buf, st, en, grp, md, n_rows);
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
    /* split the step keys into bins and tokens */
    Buf bins = {NULL, 0, 0, sizeof(int64_t)}, sterms = {NULL, 0, 0, sizeof(int32_t)};
    size_t S = s.step_key.len;
    if (buf_reserve(&bins, S + 1) || buf_reserve(&sterms, S + 1)) {
        free(bins.p);
        free(sterms.p);
        PyErr_NoMemory();
        goto done;
    }
    for (size_t i = 0; i < S; i++) {
        uint64_t key = AT(s.step_key, uint64_t, i);
        PUSH(bins, int64_t, (int64_t)(key >> 32));
        PUSH(sterms, int32_t, (int32_t)(key & 0xffffffffu));
    }
    Buf gt = {s.group_tokens, (size_t)(n_docs * 3), 0, sizeof(int64_t)};
    result = Py_BuildValue("(NNNNNNNNNNNNN)", bytes_of(&s.list_groups), bytes_of(&s.list_offsets), bytes_of(&s.terms),
                           bytes_of(&s.counts), bytes_of(&gt), bytes_of(&bins), bytes_of(&sterms),
                           bytes_of(&s.step_occ), bytes_of(&s.step_docs), bytes_of(&s.step_n2),
                           bytes_of(&s.step_ntok), bytes_of(&s.voff), bytes_of(&s.arena));
    free(bins.p);
    free(sterms.p);
done:
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

static PyMethodDef methods[] = {
    {"count_batch", count_batch, METH_VARARGS,
     "count_batch(data, extra, starts, ends, groups, modes, cell_of_doc) -> 13 bytes objects (see analytics/_tokcount.c): "
     "per-(document, scope) token counts and per-(cell, scope, token) sums under the token contract."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_tokcount", NULL, -1, methods};

PyMODINIT_FUNC PyInit__tokcount(void) {
    for (int c = 0; c < 256; c++) {
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) MAP[c] = (unsigned char)c;
        else if (c >= 'A' && c <= 'Z') MAP[c] = (unsigned char)(c + 32);
        else if (c == '\'') MAP[c] = '\'';
        else MAP[c] = 0;
    }
    return PyModule_Create(&module);
}
