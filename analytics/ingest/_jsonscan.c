/* cotwatch.analytics.ingest._jsonscan — the first, bounded look at JSONL bytes, compiled.
 *
 * scan_lines(data, max_depth, whole=False, fields=()) cuts a buffer of whole lines at '\n' and
 * checks each line before any JSON parser sees it, in one pass at memory speed (``whole``: the
 * buffer is one document, its line breaks mere whitespace):
 *
 *   status 0  a JSON object (RFC 8259, strictly: no NaN or Infinity, no trailing commas, escapes
 *             and surrogate pairs checked) in valid UTF-8, nested at most max_depth deep, no
 *             object repeating a key;
 *          1  blank (only spaces, tabs, carriage returns);
 *          2  not valid UTF-8 (the strict definition of Python's codec: no overlong forms, no
 *             surrogates, nothing above U+10FFFF); detail = byte offset in the line;
 *          3  nested deeper than max_depth objects/arrays; detail = offset of the bracket;
 *          4  an object repeats a key (byte-identical); detail = offset of the repeated key's
 *             opening quote;
 *          5  for the slower path: not valid JSON (detail = offset of the error), not an object
 *             (``whole`` documents may be any JSON value), an object key written with a
 *             backslash escape (repeated keys can only be judged after decoding), or a number
 *             that may pass 1e300 or an integer beyond int64 (Python's parsers disagree about
 *             those; the slower path keeps integers exact and refuses what becomes infinite).
 *
 * ``fields``: top-level keys (bytes) whose values' JSON types are reported for every status-0
 * line, in ``types`` (uint8[n * len(fields)], row-major): 0 absent, 1 null, 2 string, 3 integer
 * within int64, 4 integer beyond int64, 5 other number, 6 true/false, 7 object, 8 array.
 *
 * Returns (bounds, status, detail, types) as bytes: int64[n + 1] line starts (bounds[n] =
 * len(data); a line's bytes are data[bounds[i]:bounds[i + 1]], its '\n' included), uint8[n],
 * int64[n], uint8[n * len(fields)]. Work and memory are linear in the input: keys go into one
 * open-addressing table per line (stamped, so it is never cleared) and containers onto an
 * explicit stack bounded by max_depth, so no input can make the scan quadratic or recursive.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 64

typedef struct {
    uint64_t hash;
    uint64_t stamp;   /* line generation that owns the slot */
    int64_t off;      /* key bytes (after the quote) */
    int64_t len;
    int64_t object;   /* object serial within the line */
} KeySlot;

typedef struct {
    KeySlot *slots;
    size_t mask, used;
    uint64_t stamp;
} KeyTable;

static int keys_grow(KeyTable *t) {
    size_t cap = t->slots ? (t->mask + 1) * 2 : 256;
    KeySlot *fresh = calloc(cap, sizeof(KeySlot));
    if (!fresh) return -1;
    if (t->slots) {
        for (size_t i = 0; i <= t->mask; i++) {
            KeySlot *s = &t->slots[i];
            if (s->stamp != t->stamp) continue;
            size_t j = s->hash & (cap - 1);
            while (fresh[j].stamp == t->stamp) j = (j + 1) & (cap - 1);
            fresh[j] = *s;
        }
        free(t->slots);
    }
    t->slots = fresh;
    t->mask = cap - 1;
    return 0;
}

static uint64_t mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* 1 if (object, key) was seen in this line, 0 if added, -1 on memory error. */
static int keys_seen(KeyTable *t, const unsigned char *line, int64_t off, int64_t len, int64_t object) {
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)object;
    for (int64_t i = 0; i < len; i++) h = (h ^ line[off + i]) * 1099511628211ULL;
    h = mix(h);
    if (!t->slots || (t->used + 1) * 2 > t->mask + 1) {
        if (keys_grow(t) < 0) return -1;
    }
    size_t j = h & t->mask;
    while (t->slots[j].stamp == t->stamp) {
        KeySlot *s = &t->slots[j];
        if (s->hash == h && s->object == object && s->len == len && memcmp(line + s->off, line + off, (size_t)len) == 0)
            return 1;
        j = (j + 1) & t->mask;
    }
    KeySlot *s = &t->slots[j];
    s->hash = h;
    s->stamp = t->stamp;
    s->off = off;
    s->len = len;
    s->object = object;
    t->used++;
    return 0;
}

/* Length of the valid UTF-8 sequence at p (p < end, *p >= 0x80), or 0 when invalid. */
static int utf8_seq(const unsigned char *p, const unsigned char *end) {
    unsigned char c = p[0];
    if (c >= 0xC2 && c <= 0xDF) {
        return (end - p >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (end - p < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && p[1] < 0xA0) return 0;   /* overlong */
        if (c == 0xED && p[1] > 0x9F) return 0;   /* surrogates U+D800..U+DFFF */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (end - p < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && p[1] < 0x90) return 0;   /* overlong */
        if (c == 0xF4 && p[1] > 0x8F) return 0;   /* above U+10FFFF */
        return 4;
    }
    return 0;
}

#define HAS_ZERO(v) (((v) - 0x0101010101010101ULL) & ~(v) & 0x8080808080808080ULL)
/* HAS_SPECIAL: some byte of w is '"', a backslash, a control byte (< 0x20) or >= 0x80
 * (exact as a yes/no answer). */
#define HAS_SPECIAL(w) (HAS_ZERO((w) ^ 0x2222222222222222ULL) | HAS_ZERO((w) ^ 0x5C5C5C5C5C5C5C5CULL) \
                        | (((w) - 0x2020202020202020ULL) & ~(w) & 0x8080808080808080ULL) \
                        | ((w) & 0x8080808080808080ULL))

typedef struct {
    int64_t *object;  /* per depth: object serial, or -1 for an array */
    int64_t cap;
} Stack;

typedef struct {
    const unsigned char *names[MAX_FIELDS];
    Py_ssize_t lens[MAX_FIELDS];
    int n;
} Fields;

enum { T_ABSENT, T_NULL, T_STRING, T_INT, T_BIGINT, T_NUMBER, T_BOOL, T_OBJECT, T_ARRAY };

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int read_hex4(const unsigned char *p, int64_t i, int64_t n) {
    if (i + 4 > n) return -1;
    int v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(p[i + k]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Scan a string starting after its opening quote at i; returns the index after the closing quote,
 * or -1 with *err set (status 2 for UTF-8, 5 for JSON) and *at the offending offset. */
static int64_t scan_string(const unsigned char *line, int64_t i, int64_t n, int *has_escape, int *err, int64_t *at) {
    for (;;) {
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, line + i, 8);
            if (HAS_SPECIAL(w)) break;
            i += 8;
        }
        if (i >= n) {
            *err = 5;
            *at = n;
            return -1;
        }
        unsigned char d = line[i];
        if (d == '"') return i + 1;
        if (d == '\\') {
            *has_escape = 1;
            if (i + 1 >= n) {
                *err = 5;
                *at = i;
                return -1;
            }
            unsigned char e = line[i + 1];
            if (e == 'u') {
                int cp = read_hex4(line, i + 2, n);
                if (cp < 0) {
                    *err = 5;
                    *at = i;
                    return -1;
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {  /* a high surrogate needs a low one next */
                    int lo = (i + 7 < n && line[i + 6] == '\\' && line[i + 7] == 'u') ? read_hex4(line, i + 8, n) : -1;
                    if (lo < 0xDC00 || lo > 0xDFFF) {
                        *err = 5;
                        *at = i;
                        return -1;
                    }
                    i += 12;
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    *err = 5;
                    *at = i;
                    return -1;
                } else {
                    i += 6;
                }
                continue;
            }
            if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
                i += 2;
                continue;
            }
            *err = 5;
            *at = i;
            return -1;
        }
        if (d < 0x20) {
            *err = 5;
            *at = i;
            return -1;
        }
        if (d >= 0x80) {
            int len = utf8_seq(line + i, line + n);
            if (!len) {
                *err = 2;
                *at = i;
                return -1;
            }
            i += len;
            continue;
        }
        i++;
    }
}

/* Scan a number at i; returns the index after it (or -1), and its type. *huge is set for a number
 * whose magnitude may pass 1e300 (JSON allows it; Python's parsers disagree about it, so it is
 * left to the slower path, which refuses what becomes infinite). */
static int64_t scan_number(const unsigned char *line, int64_t i, int64_t n, int *type, int *huge) {
    int64_t start = i;
    int neg = 0;
    if (line[i] == '-') {
        neg = 1;
        i++;
    }
    if (i >= n) return -1;
    if (line[i] == '0') {
        i++;
    } else if (line[i] >= '1' && line[i] <= '9') {
        while (i < n && line[i] >= '0' && line[i] <= '9') i++;
    } else {
        return -1;
    }
    int64_t digits_end = i;
    int fraction = 0;
    if (i < n && line[i] == '.') {
        fraction = 1;
        i++;
        if (i >= n || line[i] < '0' || line[i] > '9') return -1;
        while (i < n && line[i] >= '0' && line[i] <= '9') i++;
    }
    int64_t exponent = 0;
    if (i < n && (line[i] == 'e' || line[i] == 'E')) {
        fraction = 1;
        i++;
        int negative_exponent = 0;
        if (i < n && (line[i] == '+' || line[i] == '-')) negative_exponent = line[i++] == '-';
        if (i >= n || line[i] < '0' || line[i] > '9') return -1;
        while (i < n && line[i] >= '0' && line[i] <= '9') {
            if (exponent < 100000) exponent = exponent * 10 + (line[i] - '0');
            i++;
        }
        if (negative_exponent) exponent = 0;
    }
    if ((digits_end - start - neg) + exponent > 300) *huge = 1;
    if (fraction) {
        *type = T_NUMBER;
    } else {
        int64_t len = digits_end - start - neg;
        const char *limit = neg ? "9223372036854775808" : "9223372036854775807";
        if (len < 19) *type = T_INT;
        else if (len > 19) *type = T_BIGINT;
        else *type = memcmp(line + start + neg, limit, 19) <= 0 ? T_INT : T_BIGINT;
        if (*type == T_BIGINT) *huge = 1;  /* orjson would round it: the slower path keeps it exact */
    }
    return i;
}

static int is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Scan one line [0, n). Returns the status; *detail as documented above; types[0..fields->n). */
static int scan_line(const unsigned char *line, int64_t n, int64_t max_depth, int whole, KeyTable *keys, Stack *st,
                     const Fields *fields, unsigned char *types, int64_t *detail) {
    int64_t depth = 0, objects = 0, i = 0;
    int escaped_key = 0, huge = 0;
    int field = -1;  /* the top-level field whose value comes next, if reported */
    enum { VALUE, KEY_OR_END, KEY, COLON, COMMA_OR_END, VALUE_OR_END, DONE } state = VALUE;
    keys->stamp++;
    keys->used = 0;
    *detail = 0;
    if (fields->n) memset(types, T_ABSENT, (size_t)fields->n);
    while (i < n && is_ws(line[i])) i++;
    if (i >= n) return 1;
    if (line[i] != '{' && !whole) {
        /* not an object: for the slower path, unless it is not even UTF-8 */
        for (int64_t k = i; k < n; k++) {
            if (line[k] >= 0x80) {
                int len = utf8_seq(line + k, line + n);
                if (!len) {
                    *detail = k;
                    return 2;
                }
                k += len - 1;
            }
        }
        *detail = i;
        return 5;
    }
    int invalid = 0;
    int64_t invalid_at = 0;
    while (i < n) {
        unsigned char c = line[i];
        if (is_ws(c)) {
            i++;
            continue;
        }
        if (state == DONE) {
            invalid = 1;
            invalid_at = i;
            break;
        }
        if (state == COLON) {
            if (c != ':') {
                invalid = 1;
                invalid_at = i;
                break;
            }
            state = VALUE;
            i++;
            continue;
        }
        if (state == COMMA_OR_END) {
            int in_object = st->object[depth - 1] >= 0;
            if (c == ',') {
                state = in_object ? KEY : VALUE;
                i++;
                continue;
            }
            if ((c == '}' && in_object) || (c == ']' && !in_object)) {
                depth--;
                state = depth ? COMMA_OR_END : DONE;
                i++;
                continue;
            }
            invalid = 1;
            invalid_at = i;
            break;
        }
        if (state == KEY_OR_END || state == KEY) {
            if (c == '}' && state == KEY_OR_END) {
                depth--;
                state = depth ? COMMA_OR_END : DONE;
                i++;
                continue;
            }
            if (c != '"') {
                invalid = 1;
                invalid_at = i;
                break;
            }
            int has_escape = 0, err = 0;
            int64_t at = 0;
            int64_t end = scan_string(line, i + 1, n, &has_escape, &err, &at);
            if (end < 0) {
                if (err == 2) {
                    *detail = at;
                    return 2;
                }
                invalid = 1;
                invalid_at = at;
                break;
            }
            int64_t koff = i + 1, klen = end - 1 - koff;
            if (has_escape) {
                escaped_key = 1;
            } else {
                int seen = keys_seen(keys, line, koff, klen, st->object[depth - 1]);
                if (seen < 0) return -1;
                if (seen) {
                    *detail = i;
                    return 4;
                }
            }
            field = -1;
            if (depth == 1 && !has_escape) {
                for (int f = 0; f < fields->n; f++) {
                    if (fields->lens[f] == klen && memcmp(fields->names[f], line + koff, (size_t)klen) == 0) {
                        field = f;
                        break;
                    }
                }
            }
            state = COLON;
            i = end;
            continue;
        }
        /* state VALUE or VALUE_OR_END */
        if (c == ']' && state == VALUE_OR_END) {
            depth--;
            state = depth ? COMMA_OR_END : DONE;
            i++;
            continue;
        }
        int type = -1;
        if (c == '{' || c == '[') {
            if (depth >= max_depth) {
                *detail = i;
                return 3;
            }
            if (depth >= st->cap) {
                int64_t cap = st->cap ? st->cap * 2 : 64;
                int64_t *p = realloc(st->object, (size_t)cap * sizeof(int64_t));
                if (!p) return -1;
                st->object = p;
                st->cap = cap;
            }
            type = c == '{' ? T_OBJECT : T_ARRAY;
            if (depth == 1 && field >= 0) types[field] = (unsigned char)type;
            field = -1;
            st->object[depth++] = c == '{' ? objects++ : -1;
            state = c == '{' ? KEY_OR_END : VALUE_OR_END;
            i++;
            continue;
        }
        if (c == '"') {
            int has_escape = 0, err = 0;
            int64_t at = 0;
            int64_t end = scan_string(line, i + 1, n, &has_escape, &err, &at);
            if (end < 0) {
                if (err == 2) {
                    *detail = at;
                    return 2;
                }
                invalid = 1;
                invalid_at = at;
                break;
            }
            type = T_STRING;
            i = end;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            int64_t end = scan_number(line, i, n, &type, &huge);
            if (end < 0) {
                invalid = 1;
                invalid_at = i;
                break;
            }
            i = end;
        } else if (c == 't' && i + 4 <= n && memcmp(line + i, "true", 4) == 0) {
            type = T_BOOL;
            i += 4;
        } else if (c == 'f' && i + 5 <= n && memcmp(line + i, "false", 5) == 0) {
            type = T_BOOL;
            i += 5;
        } else if (c == 'n' && i + 4 <= n && memcmp(line + i, "null", 4) == 0) {
            type = T_NULL;
            i += 4;
        } else {
            invalid = 1;
            invalid_at = i;
            break;
        }
        if (depth == 1 && field >= 0) types[field] = (unsigned char)type;
        field = -1;
        state = depth ? COMMA_OR_END : DONE;
    }
    if (!invalid && state != DONE) {
        invalid = 1;
        invalid_at = n;
    }
    if (invalid) {
        /* still refuse bytes that are not UTF-8 first: that is the more useful reason */
        for (int64_t k = invalid_at; k < n; k++) {
            if (line[k] >= 0x80) {
                int len = utf8_seq(line + k, line + n);
                if (!len) {
                    *detail = k;
                    return 2;
                }
                k += len - 1;
            }
        }
        *detail = invalid_at;
        return 5;
    }
    return escaped_key || huge ? 5 : 0;
}

static PyObject *scan_lines(PyObject *self, PyObject *args) {
    Py_buffer data;
    long long max_depth;
    int whole = 0;
    PyObject *field_names = NULL;
    if (!PyArg_ParseTuple(args, "y*L|pO", &data, &max_depth, &whole, &field_names)) return NULL;
    Fields fields = {0};
    if (field_names && field_names != Py_None) {
        PyObject *seq = PySequence_Fast(field_names, "fields must be a sequence of bytes");
        if (!seq) {
            PyBuffer_Release(&data);
            return NULL;
        }
        Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
        if (count > MAX_FIELDS) {
            Py_DECREF(seq);
            PyBuffer_Release(&data);
            PyErr_SetString(PyExc_ValueError, "scan_lines: at most 64 fields");
            return NULL;
        }
        for (Py_ssize_t f = 0; f < count; f++) {
            PyObject *name = PySequence_Fast_GET_ITEM(seq, f);
            char *p;
            Py_ssize_t len;
            if (PyBytes_AsStringAndSize(name, &p, &len) < 0) {
                Py_DECREF(seq);
                PyBuffer_Release(&data);
                return NULL;
            }
            fields.names[f] = (const unsigned char *)p;
            fields.lens[f] = len;
        }
        fields.n = (int)count;
        Py_DECREF(seq);  /* the names live in field_names, which the caller holds */
    }
    const unsigned char *buf = data.buf;
    int64_t size = data.len;
    /* count lines first: one memchr pass, so the outputs are allocated once */
    int64_t n = 0;
    if (whole) {
        n = size > 0;
    } else {
        for (const unsigned char *p = buf, *end = buf + size; p < end;) {
            const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
            n++;
            if (!nl) break;
            p = nl + 1;
        }
    }
    PyObject *bounds = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)((n + 1) * sizeof(int64_t)));
    PyObject *status = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n ? n : 1));
    PyObject *detail = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)((n ? n : 1) * sizeof(int64_t)));
    PyObject *types = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * fields.n ? n * fields.n : 1));
    if (!bounds || !status || !detail || !types) {
        Py_XDECREF(bounds);
        Py_XDECREF(status);
        Py_XDECREF(detail);
        Py_XDECREF(types);
        PyBuffer_Release(&data);
        return NULL;
    }
    int64_t *b = (int64_t *)PyBytes_AS_STRING(bounds);
    unsigned char *s = (unsigned char *)PyBytes_AS_STRING(status);
    int64_t *d = (int64_t *)PyBytes_AS_STRING(detail);
    unsigned char *t = (unsigned char *)PyBytes_AS_STRING(types);
    KeyTable keys = {0};
    Stack st = {0};
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    int64_t pos = 0;
    for (int64_t k = 0; k < n; k++) {
        const unsigned char *nl = whole ? NULL : memchr(buf + pos, '\n', (size_t)(size - pos));
        int64_t end = nl ? (int64_t)(nl - buf) : size;
        b[k] = pos;
        int r = scan_line(buf + pos, end - pos, max_depth, whole, &keys, &st, &fields, t + k * fields.n, &d[k]);
        if (r < 0) {
            failed = 1;
            break;
        }
        s[k] = (unsigned char)r;
        pos = nl ? end + 1 : size;
    }
    b[n] = size;
    Py_END_ALLOW_THREADS
    free(keys.slots);
    free(st.object);
    PyBuffer_Release(&data);
    if (failed) {
        Py_DECREF(bounds);
        Py_DECREF(status);
        Py_DECREF(detail);
        Py_DECREF(types);
        return PyErr_NoMemory();
    }
    if (n == 0) {
        _PyBytes_Resize(&status, 0);
        _PyBytes_Resize(&detail, 0);
    }
    if (n * fields.n == 0) _PyBytes_Resize(&types, 0);
    return Py_BuildValue("(NNNN)", bounds, status, detail, types);
}

static PyMethodDef methods[] = {
    {"scan_lines", scan_lines, METH_VARARGS,
     "scan_lines(data, max_depth, whole=False, fields=()) -> (bounds int64[n+1], status uint8[n], "
     "detail int64[n], types uint8[n*len(fields)]) as bytes: line bounds, per-line checks and the JSON "
     "types of the named top-level fields (see analytics/ingest/_jsonscan.c)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_jsonscan", NULL, -1, methods};

PyMODINIT_FUNC PyInit__jsonscan(void) { return PyModule_Create(&module); }
