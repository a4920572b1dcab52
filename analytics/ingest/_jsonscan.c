/* cotwatch.analytics.ingest._jsonscan — the first, bounded look at JSONL bytes, compiled.
 *
 * scan_lines(data, max_depth, whole=False, fields=(), max_values=-1) cuts a buffer of whole lines at '\n' and
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
 *             those; the slower path keeps integers exact and refuses what becomes infinite),
 *             or NaN / Infinity / -Infinity (not JSON; scanned on as numbers, so the other
 *             checks still see the whole line, which the slower path then judges).
 *          6  holds more than max_values JSON values (max_values >= 0; every key counts too: each
 *             would become a Python object were the line parsed); detail = offset of the value
 *             or key that ran over (whichever of 2, 3, 4 and 6 the scan meets first is reported).
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
static int scan_line(const unsigned char *line, int64_t n, int64_t max_depth, int64_t max_values, int whole,
                     KeyTable *keys, Stack *st, const Fields *fields, unsigned char *types, int64_t *detail) {
    int64_t depth = 0, objects = 0, i = 0, values = 0;
    int escaped_key = 0, huge = 0, constant = 0;
    int field = -1;  /* the top-level field whose value comes next, if reported */
    enum { VALUE, KEY_OR_END, KEY, COLON, COMMA_OR_END, VALUE_OR_END, DONE } state = VALUE;
    keys->stamp++;
    keys->used = 0;
    *detail = 0;
    if (fields->n) memset(types, T_ABSENT, (size_t)fields->n);
    while (i < n && is_ws(line[i])) i++;
    if (i >= n) return 1;
    int not_object = line[i] != '{' && !whole;  /* valid JSON, but not a record: for the slower path */
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
            if (max_values >= 0 && ++values > max_values) {
                *detail = i;
                return 6;
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
        if (max_values >= 0 && ++values > max_values) {
            *detail = i;
            return 6;
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
        } else if (c == '-' && i + 9 <= n && memcmp(line + i + 1, "Infinity", 8) == 0) {
            type = T_NUMBER;  /* -Infinity: as NaN below */
            constant = 1;
            i += 9;
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
        } else if (c == 'N' && i + 3 <= n && memcmp(line + i, "NaN", 3) == 0) {
            /* not JSON, but Python's parsers (inspect_ai's too) read it: scan on, so the depth,
             * key and value checks still see the rest; the line goes to the slower path */
            type = T_NUMBER;
            constant = 1;
            i += 3;
        } else if (c == 'I' && i + 8 <= n && memcmp(line + i, "Infinity", 8) == 0) {
            type = T_NUMBER;
            constant = 1;
            i += 8;
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
    return escaped_key || huge || not_object || constant ? 5 : 0;
}

static PyObject *scan_lines(PyObject *self, PyObject *args) {
    Py_buffer data;
    long long max_depth;
    int whole = 0;
    PyObject *field_names = NULL;
    long long max_values = -1;
    if (!PyArg_ParseTuple(args, "y*L|pOL", &data, &max_depth, &whole, &field_names, &max_values)) return NULL;
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
    PyObject *types = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n > 0 && fields.n > 0 ? n * fields.n : 1));
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
        int r = scan_line(buf + pos, end - pos, max_depth, max_values, whole, &keys, &st, &fields, t + k * fields.n, &d[k]);
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


/* ------------------------------------------------------------------------------------------
 * extract_records: the common record shapes, straight from scanned lines to columns.
 *
 * extract_records(data, bounds, lines, keys, extra_keys) takes lines the scanner passed (status
 * 0: valid JSON objects, UTF-8, no repeated keys) and, for each line whose record has one of the
 * shapes below, decodes its fields and segments exactly as records.record_from_json would; any
 * other line is marked for that Python definition (ok = 0), which also words every error.
 *
 *   keys (11, bytes): the record fields' top-level keys in records.RECORD_FIELDS order (id, run,
 *   step, environment, epoch, covert_action, score, metadata, reasoning, output, messages);
 *   extra_keys: keys whose raw JSON is returned too (--field ...=metadata.KEY).
 *
 * Shapes taken: id/run/environment a string or an integer within int64 (or null/absent); step
 * an integer within int64; epoch within int32; covert_action a boolean; score a finite number;
 * metadata an object (returned as its raw JSON text, made canonical by the caller); and either
 * reasoning (string) with an optional output (string), or output alone, or messages: a list of
 * objects with a known role (string) and content null, a string, or a list of object parts —
 * text parts with a string text, and for assistants also reasoning parts (string or null
 * reasoning and summary, boolean or null redacted), thinking parts (string) and
 * redacted_thinking parts. Assistant text with a <think> tag, and anything else, goes to Python.
 * "Blank" is Python's str.isspace() for every character.
 *
 * Returns a tuple of bytes objects, Arrow buffers: ok uint8[K]; for each of id, run,
 * environment, metadata and extra (the extra keys present, as one object {"key": raw JSON, ...};
 * keys are written as given: the caller allows no quote, backslash or control character in them):
 * (offsets int64[K+1], data, validity uint8[K]);
 * step int64[K] + validity, epoch int32[K] + validity, covert_action uint8[K] + validity, score
 * float64[K] + validity; segments: record int64[S], ordinal int32[S], kind uint8[S] (index into
 * SEGMENT_KINDS), role uint8[S] (index into ROLES below), redacted uint8[S], text (offsets
 * int64[S+1], data).
 * ------------------------------------------------------------------------------------------ */
#include <math.h>

typedef struct {
    char *p;
    size_t len, cap;
} Bytes;

static int bytes_reserve(Bytes *b, size_t extra) {
    if (b->len + extra <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int bytes_put(Bytes *b, const void *src, size_t n) {
    if (bytes_reserve(b, n) < 0) return -1;
    memcpy(b->p + b->len, src, n);
    b->len += n;
    return 0;
}

#define PUT(b, value) do { __typeof__(value) v_ = (value); if (bytes_put(&(b), &v_, sizeof v_) < 0) return -1; } while (0)

typedef struct {
    Bytes offsets, data, valid;
} StrCol;

static int strcol_init(StrCol *c) {
    memset(c, 0, sizeof *c);
    int64_t zero = 0;
    return bytes_put(&c->offsets, &zero, sizeof zero);
}

static int strcol_end(StrCol *c, int valid) {
    int64_t end = (int64_t)c->data.len;
    unsigned char v = (unsigned char)valid;
    if (bytes_put(&c->offsets, &end, sizeof end) < 0) return -1;
    return bytes_put(&c->valid, &v, 1);
}

/* Segment kinds (kinds.SEGMENT_KINDS order) and roles, as codes. */
enum { K_REASONING, K_SUMMARY, K_OUTPUT, K_USER, K_SYSTEM, K_TOOL };
static const char *ROLES[] = {"assistant", "user", "human", "system", "developer", "tool", "function", "ipython"};
static const unsigned char ROLE_KIND[] = {K_OUTPUT, K_USER, K_USER, K_SYSTEM, K_SYSTEM, K_TOOL, K_TOOL, K_TOOL};
#define N_ROLES 8
#define R_ASSISTANT 0

typedef struct {
    Bytes rec, ord, kind, role, red;
    StrCol text;
} Segs;

/* Skip whitespace. */
static int64_t ws(const unsigned char *s, int64_t i, int64_t n) {
    while (i < n && is_ws(s[i])) i++;
    return i;
}

/* The first index >= i holding '"' or a backslash (n if none), 8 bytes at a time. */
static int64_t find_quote(const unsigned char *s, int64_t i, int64_t n) {
    while (i + 8 <= n) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (HAS_ZERO(w ^ 0x2222222222222222ULL) | HAS_ZERO(w ^ 0x5C5C5C5C5C5C5C5CULL)) break;
        i += 8;
    }
    while (i < n && s[i] != '"' && s[i] != '\\') i++;
    return i;
}

/* The index after the string whose opening quote is at i (-1 if unterminated). */
static int64_t skip_string(const unsigned char *s, int64_t i, int64_t n) {
    i++;
    for (;;) {
        i = find_quote(s, i, n);
        if (i >= n) return -1;
        if (s[i] == '"') return i + 1;
        i += 2;
    }
}

/* The first index >= i holding a quote or a bracket (n if none), 8 bytes at a time. */
static int64_t find_structural(const unsigned char *s, int64_t i, int64_t n) {
    while (i + 8 <= n) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (HAS_ZERO(w ^ 0x2222222222222222ULL) | HAS_ZERO(w ^ 0x7B7B7B7B7B7B7B7BULL) | HAS_ZERO(w ^ 0x7D7D7D7D7D7D7D7DULL) |
            HAS_ZERO(w ^ 0x5B5B5B5B5B5B5B5BULL) | HAS_ZERO(w ^ 0x5D5D5D5D5D5D5D5DULL))
            break;
        i += 8;
    }
    while (i < n && s[i] != '"' && s[i] != '{' && s[i] != '}' && s[i] != '[' && s[i] != ']') i++;
    return i;
}

/* Skip one JSON value at i (valid JSON assumed); returns the index after it, -1 if malformed. */
static int64_t skip_value(const unsigned char *s, int64_t i, int64_t n) {
    if (i >= n) return -1;
    unsigned char c = s[i];
    if (c == '"') return skip_string(s, i, n);
    if (c == '{' || c == '[') {
        int64_t depth = 0;
        while (i < n) {
            i = find_structural(s, i, n);
            if (i >= n) return -1;
            unsigned char d = s[i];
            if (d == '"') {
                i = skip_string(s, i, n);
                if (i < 0) return -1;
                continue;
            }
            if (d == '{' || d == '[') depth++;
            else if (--depth == 0) return i + 1;
            i++;
        }
        return -1;
    }
    while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && !is_ws(s[i])) i++;
    return i;
}

/* Decode the JSON string at i (s[i] == '"') onto out; returns the index after it, -1 if bad. */
static int64_t decode_string(const unsigned char *s, int64_t i, int64_t n, Bytes *out) {
    i++;
    while (i < n) {
        int64_t run = i;
        i = find_quote(s, i, n);
        if (bytes_put(out, s + run, (size_t)(i - run)) < 0) return -2;
        if (i >= n) return -1;
        if (s[i] == '"') return i + 1;
        if (i + 1 >= n) return -1;
        unsigned char e = s[i + 1];
        char c;
        switch (e) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case '/': c = '/'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                int cp = read_hex4(s, i + 2, n);
                if (cp < 0) return -1;
                i += 6;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    int lo = (i + 1 < n && s[i] == '\\' && s[i + 1] == 'u') ? read_hex4(s, i + 2, n) : -1;
                    if (lo < 0xDC00 || lo > 0xDFFF) return -1;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return -1;
                }
                unsigned char u[4];
                int len;
                if (cp < 0x80) { u[0] = (unsigned char)cp; len = 1; }
                else if (cp < 0x800) { u[0] = 0xC0 | (cp >> 6); u[1] = 0x80 | (cp & 0x3F); len = 2; }
                else if (cp < 0x10000) { u[0] = 0xE0 | (cp >> 12); u[1] = 0x80 | ((cp >> 6) & 0x3F); u[2] = 0x80 | (cp & 0x3F); len = 3; }
                else { u[0] = 0xF0 | (cp >> 18); u[1] = 0x80 | ((cp >> 12) & 0x3F); u[2] = 0x80 | ((cp >> 6) & 0x3F); u[3] = 0x80 | (cp & 0x3F); len = 4; }
                if (bytes_put(out, u, (size_t)len) < 0) return -2;
                continue;
            }
            default: return -1;
        }
        if (bytes_put(out, &c, 1) < 0) return -2;
        i += 2;
    }
    return -1;
}

/* Whether a UTF-8 text is blank under Python's str.isspace() (valid UTF-8 assumed). */
static int is_blank(const unsigned char *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        uint32_t cp;
        int len;
        if (c < 0x80) { cp = c; len = 1; }
        else if (c < 0xE0) { cp = ((uint32_t)(c & 0x1F) << 6) | (p[i + 1] & 0x3F); len = 2; }
        else if (c < 0xF0) { cp = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F); len = 3; }
        else return 0;  /* 4-byte characters are never whitespace */
        if (!((cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
              (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000))
            return 0;
        i += (size_t)len;
    }
    return 1;
}

static int has_think(const char *p, size_t n) {
    /* "<think>" or "</think>" anywhere */
    const char *end = p + n;
    for (const char *q = memchr(p, '<', n); q; q = memchr(q + 1, '<', (size_t)(end - q - 1))) {
        if (end - q >= 7 && memcmp(q, "<think>", 7) == 0) return 1;
        if (end - q >= 8 && memcmp(q, "</think>", 8) == 0) return 1;
        if (end - q <= 1) break;
    }
    return 0;
}

/* The JSON type code at i (as the scanner's): string, number (3 int64, 4 big, 5 other), ... */
static int value_type(const unsigned char *s, int64_t i, int64_t n) {
    unsigned char c = s[i];
    if (c == '"') return T_STRING;
    if (c == '{') return T_OBJECT;
    if (c == '[') return T_ARRAY;
    if (c == 't' || c == 'f') return T_BOOL;
    if (c == 'n') return T_NULL;
    int type = T_NUMBER, huge = 0;
    if (scan_number(s, i, n, &type, &huge) < 0) return -1;
    return type;
}

/* Begin a segment; its text is pushed onto segs->text.data by the caller, then seg_end. */
static int seg_begin(Segs *g, int64_t rec, int32_t ordinal, unsigned char kind, unsigned char role, unsigned char redacted) {
    PUT(g->rec, rec);
    PUT(g->ord, ordinal);
    PUT(g->kind, kind);
    PUT(g->role, role);
    PUT(g->red, redacted);
    return 0;
}

typedef struct {
    size_t rec, ord, kind, role, red, toff, tdata, tvalid;
} SegMark;

static SegMark seg_mark(Segs *g) {
    SegMark m = {g->rec.len, g->ord.len, g->kind.len, g->role.len, g->red.len, g->text.offsets.len, g->text.data.len,
                 g->text.valid.len};
    return m;
}

static void seg_reset(Segs *g, SegMark m) {
    g->rec.len = m.rec;
    g->ord.len = m.ord;
    g->kind.len = m.kind;
    g->role.len = m.role;
    g->red.len = m.red;
    g->text.offsets.len = m.toff;
    g->text.data.len = m.tdata;
    g->text.valid.len = m.tvalid;
}

/* Drop the text just pushed since `start` when it turns out not to be a segment. */
static void seg_drop_text(Segs *g, size_t start) { g->text.data.len = start; }

/* Find the value of key `name` in the object at i (returns its index, 0 if absent, -1 bad). */
#define MAX_LOOKUP 32
typedef struct {
    const unsigned char *name[MAX_LOOKUP];
    size_t len[MAX_LOOKUP];
    int n;
    int64_t at[MAX_LOOKUP];
} Lookup;

static int object_lookup(const unsigned char *s, int64_t i, int64_t n, Lookup *lk, int64_t *end) {
    for (int k = 0; k < lk->n; k++) lk->at[k] = 0;
    i = ws(s, i + 1, n);
    if (i < n && s[i] == '}') {
        *end = i + 1;
        return 0;
    }
    while (i < n) {
        if (s[i] != '"') return -1;
        int64_t kstart = i + 1, kend = kstart;
        while (kend < n && s[kend] != '"') {
            if (s[kend] == '\\') return -1;  /* escaped keys never reach here (scanner status 5) */
            kend++;
        }
        i = ws(s, kend + 1, n);
        if (i >= n || s[i] != ':') return -1;
        i = ws(s, i + 1, n);
        for (int k = 0; k < lk->n; k++) {
            if (lk->len[k] == (size_t)(kend - kstart) && memcmp(lk->name[k], s + kstart, lk->len[k]) == 0) {
                lk->at[k] = i;
                break;
            }
        }
        i = skip_value(s, i, n);
        if (i < 0) return -1;
        i = ws(s, i, n);
        if (i < n && s[i] == ',') {
            i = ws(s, i + 1, n);
            continue;
        }
        if (i < n && s[i] == '}') {
            *end = i + 1;
            return 0;
        }
        return -1;
    }
    return -1;
}

/* Push the decoded string at i onto b; 1 ok, 0 not a string (or bad), -1 memory. */
static int take_string(const unsigned char *s, int64_t i, int64_t n, Bytes *b) {
    if (i <= 0 || s[i] != '"') return 0;
    int64_t r = decode_string(s, i, n, b);
    if (r == -2) return -1;
    return r > 0;
}

#define SLOW 1
#define NOMEM -1

/* One content part of an assistant (asst) or other message; appends segments. */
static int part_segments(const unsigned char *s, int64_t i, int64_t n, Segs *g, int64_t rec, int32_t *ordinal,
                         int asst, unsigned char role, Bytes *joined, int *joined_any) {
    static const unsigned char *names[] = {(const unsigned char *)"type", (const unsigned char *)"text",
                                           (const unsigned char *)"reasoning", (const unsigned char *)"summary",
                                           (const unsigned char *)"redacted", (const unsigned char *)"thinking"};
    if (s[i] != '{') return SLOW;
    Lookup lk = {.n = 6};
    for (int k = 0; k < 6; k++) {
        lk.name[k] = names[k];
        lk.len[k] = strlen((const char *)names[k]);
    }
    int64_t end;
    if (object_lookup(s, i, n, &lk, &end) < 0) return SLOW;
    if (!lk.at[0] || s[lk.at[0]] != '"') return SLOW;
    /* the type, compared raw (types are plain ASCII words; an escaped one goes to Python) */
    int64_t t = lk.at[0] + 1, te = t;
    while (te < n && s[te] != '"' && s[te] != '\\') te++;
    if (te >= n || s[te] == '\\') return SLOW;
    size_t tl = (size_t)(te - t);
#define TYPE_IS(word) (tl == sizeof(word) - 1 && memcmp(s + t, word, tl) == 0)
    if (TYPE_IS("text")) {
        if (!lk.at[1] || s[lk.at[1]] != '"') return SLOW;
        if (!asst) {  /* joined with the message's other text parts, empty ones left out */
            size_t start = joined->len;
            if (*joined_any) {
                if (bytes_put(joined, "\n", 1) < 0) return NOMEM;
            }
            size_t body = joined->len;
            int r = take_string(s, lk.at[1], n, joined);
            if (r < 0) return NOMEM;
            if (!r) return SLOW;
            if (joined->len == body) joined->len = start;  /* "" adds nothing, not even a newline */
            else *joined_any = 1;
            return 0;
        }
        size_t start = g->text.data.len;
        int r = take_string(s, lk.at[1], n, &g->text.data);
        if (r < 0) return NOMEM;
        if (!r) return SLOW;
        const char *txt = g->text.data.p + start;
        size_t len = g->text.data.len - start;
        if (has_think(txt, len)) return SLOW;
        if (is_blank((const unsigned char *)txt, len)) {
            seg_drop_text(g, start);
            return 0;
        }
        if (seg_begin(g, rec, (*ordinal)++, K_OUTPUT, R_ASSISTANT, 0) < 0 || strcol_end(&g->text, 1) < 0) return NOMEM;
        return 0;
    }
    if (!asst) return SLOW;
    if (TYPE_IS("reasoning")) {
        int rt = lk.at[2] ? value_type(s, lk.at[2], n) : T_NULL;
        int st = lk.at[3] ? value_type(s, lk.at[3], n) : T_NULL;
        int dt = lk.at[4] ? value_type(s, lk.at[4], n) : T_NULL;
        if ((rt != T_NULL && rt != T_STRING) || (st != T_NULL && st != T_STRING) || (dt != T_NULL && dt != T_BOOL)) return SLOW;
        int redacted = dt == T_BOOL && s[lk.at[4]] == 't';
        if (!redacted && rt == T_STRING) {
            if (take_string(s, lk.at[2], n, &g->text.data) < 0) return NOMEM;
        }
        if (seg_begin(g, rec, (*ordinal)++, K_REASONING, R_ASSISTANT, (unsigned char)redacted) < 0 ||
            strcol_end(&g->text, 1) < 0)
            return NOMEM;
        if (st == T_STRING) {
            size_t start = g->text.data.len;
            if (take_string(s, lk.at[3], n, &g->text.data) < 0) return NOMEM;
            if (is_blank((const unsigned char *)g->text.data.p + start, g->text.data.len - start)) {
                seg_drop_text(g, start);
            } else if (seg_begin(g, rec, (*ordinal)++, K_SUMMARY, R_ASSISTANT, 0) < 0 || strcol_end(&g->text, 1) < 0) {
                return NOMEM;
            }
        }
        return 0;
    }
    if (TYPE_IS("thinking")) {
        if (!lk.at[5] || s[lk.at[5]] != '"') return SLOW;
        if (take_string(s, lk.at[5], n, &g->text.data) < 0) return NOMEM;
        if (seg_begin(g, rec, (*ordinal)++, K_REASONING, R_ASSISTANT, 0) < 0 || strcol_end(&g->text, 1) < 0) return NOMEM;
        return 0;
    }
    if (TYPE_IS("redacted_thinking")) {
        if (seg_begin(g, rec, (*ordinal)++, K_REASONING, R_ASSISTANT, 1) < 0 || strcol_end(&g->text, 1) < 0) return NOMEM;
        return 0;
    }
#undef TYPE_IS
    return SLOW;
}

/* One message of a chat transcript; appends its segments. */
static int message_segments(const unsigned char *s, int64_t i, int64_t n, Segs *g, int64_t rec, int32_t *ordinal,
                            Bytes *scratch) {
    static const unsigned char *names[] = {(const unsigned char *)"role", (const unsigned char *)"content",
                                           (const unsigned char *)"reasoning_content", (const unsigned char *)"reasoning"};
    if (s[i] != '{') return SLOW;
    Lookup lk = {.n = 4};
    for (int k = 0; k < 4; k++) {
        lk.name[k] = names[k];
        lk.len[k] = strlen((const char *)names[k]);
    }
    int64_t end;
    if (object_lookup(s, i, n, &lk, &end) < 0) return SLOW;
    if (!lk.at[0] || s[lk.at[0]] != '"') return SLOW;
    int64_t r0 = lk.at[0] + 1, re = r0;
    while (re < n && s[re] != '"' && s[re] != '\\') re++;
    if (re >= n || s[re] == '\\') return SLOW;
    int role = -1;
    for (int k = 0; k < N_ROLES; k++) {
        if (strlen(ROLES[k]) == (size_t)(re - r0) && memcmp(ROLES[k], s + r0, (size_t)(re - r0)) == 0) role = k;
    }
    int asst = role == R_ASSISTANT || ((re - r0) == 5 && memcmp(s + r0, "model", 5) == 0);
    if (role < 0 && !asst) return SLOW;
    int ctype = lk.at[1] ? value_type(s, lk.at[1], n) : T_NULL;
    if (ctype != T_NULL && ctype != T_STRING && ctype != T_ARRAY) return SLOW;
    if (asst) {
        /* reasoning_content, else reasoning: the first that is a string with text */
        for (int k = 2; k < 4; k++) {
            if (!lk.at[k] || s[lk.at[k]] != '"') continue;
            size_t start = g->text.data.len;
            if (take_string(s, lk.at[k], n, &g->text.data) < 0) return NOMEM;
            if (is_blank((const unsigned char *)g->text.data.p + start, g->text.data.len - start)) {
                seg_drop_text(g, start);
                continue;
            }
            if (seg_begin(g, rec, (*ordinal)++, K_REASONING, R_ASSISTANT, 0) < 0 || strcol_end(&g->text, 1) < 0) return NOMEM;
            break;
        }
        if (ctype == T_STRING) {
            size_t start = g->text.data.len;
            if (take_string(s, lk.at[1], n, &g->text.data) < 0) return NOMEM;
            const char *txt = g->text.data.p + start;
            size_t len = g->text.data.len - start;
            if (has_think(txt, len)) return SLOW;
            if (is_blank((const unsigned char *)txt, len)) seg_drop_text(g, start);
            else if (seg_begin(g, rec, (*ordinal)++, K_OUTPUT, R_ASSISTANT, 0) < 0 || strcol_end(&g->text, 1) < 0) return NOMEM;
            return 0;
        }
    }
    unsigned char kind = asst ? K_OUTPUT : ROLE_KIND[role];
    scratch->len = 0;
    int any = 0;
    if (ctype == T_ARRAY) {
        int64_t j = ws(s, lk.at[1] + 1, n);
        if (j < n && s[j] == ']') return 0;
        while (j < n) {
            int r = part_segments(s, j, n, g, rec, ordinal, asst, asst ? R_ASSISTANT : (unsigned char)role, scratch, &any);
            if (r) return r;
            j = skip_value(s, j, n);
            if (j < 0) return SLOW;
            j = ws(s, j, n);
            if (j < n && s[j] == ',') {
                j = ws(s, j + 1, n);
                continue;
            }
            if (j < n && s[j] == ']') break;
            return SLOW;
        }
    } else if (ctype == T_STRING && !asst) {
        if (take_string(s, lk.at[1], n, scratch) < 0) return NOMEM;
    }
    if (!asst && scratch->len && !is_blank((const unsigned char *)scratch->p, scratch->len)) {
        if (bytes_put(&g->text.data, scratch->p, scratch->len) < 0) return NOMEM;
        if (seg_begin(g, rec, (*ordinal)++, kind, (unsigned char)role, 0) < 0 || strcol_end(&g->text, 1) < 0) return NOMEM;
    }
    return 0;
}

/* Push an id/run/environment value: a string (blank = null) or an integer's digits. */
static int push_label(StrCol *c, const unsigned char *s, int64_t at, int64_t n) {
    if (!at || s[at] == 'n') return strcol_end(c, 0) < 0 ? NOMEM : 0;
    int type = value_type(s, at, n);
    size_t start = c->data.len;
    if (type == T_STRING) {
        int r = take_string(s, at, n, &c->data);
        if (r < 0) return NOMEM;
        if (!r) return SLOW;
        if (is_blank((const unsigned char *)c->data.p + start, c->data.len - start)) {
            c->data.len = start;
            return strcol_end(c, 0) < 0 ? NOMEM : 0;
        }
        return strcol_end(c, 1) < 0 ? NOMEM : 0;
    }
    if (type != T_INT) return SLOW;
    int64_t e = at;
    while (e < n && (s[e] == '-' || (s[e] >= '0' && s[e] <= '9'))) e++;
    if (e - at == 2 && s[at] == '-' && s[at + 1] == '0') at++;  /* -0 is 0 */
    if (bytes_put(&c->data, s + at, (size_t)(e - at)) < 0) return NOMEM;
    return strcol_end(c, 1) < 0 ? NOMEM : 0;
}

static PyObject *bytes_obj(Bytes *b) {
    PyObject *o = PyBytes_FromStringAndSize(b->p ? b->p : "", (Py_ssize_t)b->len);
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    return o;
}

#define N_KEYS 11
enum { F_ID, F_RUN, F_STEP, F_ENV, F_EPOCH, F_COVERT, F_SCORE, F_META, F_REASONING, F_OUTPUT, F_MESSAGES };

static PyObject *extract_records(PyObject *self, PyObject *args) {
    Py_buffer data, bounds, lines;
    PyObject *key_names, *extra_names;
    if (!PyArg_ParseTuple(args, "y*y*y*OO", &data, &bounds, &lines, &key_names, &extra_names)) return NULL;
    PyObject *result = NULL;
    Lookup top = {0};
    Py_ssize_t n_extra = 0;
    PyObject *keys_seq = PySequence_Fast(key_names, "keys must be a sequence of bytes");
    PyObject *extra_seq = keys_seq ? PySequence_Fast(extra_names, "extra_keys must be a sequence of bytes") : NULL;
    if (!keys_seq || !extra_seq) goto release;
    n_extra = PySequence_Fast_GET_SIZE(extra_seq);
    if (PySequence_Fast_GET_SIZE(keys_seq) != N_KEYS || n_extra > MAX_LOOKUP - N_KEYS) {
        PyErr_SetString(PyExc_ValueError, "extract_records: 11 keys and at most 21 extra keys");
        goto release;
    }
    for (int k = 0; k < N_KEYS + n_extra; k++) {
        PyObject *o = k < N_KEYS ? PySequence_Fast_GET_ITEM(keys_seq, k) : PySequence_Fast_GET_ITEM(extra_seq, k - N_KEYS);
        char *p;
        Py_ssize_t len;
        if (PyBytes_AsStringAndSize(o, &p, &len) < 0) goto release;
        top.name[k] = (const unsigned char *)p;
        top.len[k] = (size_t)len;
    }
    top.n = N_KEYS + (int)n_extra;
    {
        const unsigned char *buf = data.buf;
        const int64_t *b = bounds.buf;
        const int64_t *idx = lines.buf;
        Py_ssize_t K = lines.len / (Py_ssize_t)sizeof(int64_t);
        Bytes ok = {0}, step = {0}, step_v = {0}, epoch = {0}, epoch_v = {0}, covert = {0}, covert_v = {0};
        Bytes score = {0}, score_v = {0}, scratch = {0};
        StrCol id, run, env, meta, extra;
        Segs g = {0};
        int failed = strcol_init(&id) | strcol_init(&run) | strcol_init(&env) | strcol_init(&meta) |
                     strcol_init(&extra) | strcol_init(&g.text);
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t r = 0; r < K && !failed; r++) {
            const unsigned char *s = buf + b[idx[r]];
            int64_t n = b[idx[r] + 1] - b[idx[r]];
            size_t m_id = id.data.len, m_run = run.data.len, m_env = env.data.len, m_meta = meta.data.len, m_extra = extra.data.len;
            size_t o_id = id.offsets.len, o_run = run.offsets.len, o_env = env.offsets.len, o_meta = meta.offsets.len, o_extra = extra.offsets.len;
            size_t v_id = id.valid.len, v_run = run.valid.len, v_env = env.valid.len, v_meta = meta.valid.len, v_extra = extra.valid.len;
            SegMark mark = seg_mark(&g);
            int status = 0;  /* 0 taken, SLOW, NOMEM */
            int64_t i = ws(s, 0, n), end;
            if (object_lookup(s, i, n, &top, &end) < 0) status = SLOW;
            int64_t *at = top.at;
            int64_t step_value = 0, epoch_value = 0;
            unsigned char step_ok = 0, epoch_ok = 0, covert_value = 0, covert_ok = 0, score_ok = 0;
            double score_value = 0;
            if (!status) status = push_label(&id, s, at[F_ID], n);
            if (!status) status = push_label(&run, s, at[F_RUN], n);
            if (!status) status = push_label(&env, s, at[F_ENV], n);
            if (!status && at[F_STEP] && s[at[F_STEP]] != 'n') {
                if (value_type(s, at[F_STEP], n) != T_INT) status = SLOW;
                else { step_value = strtoll((const char *)s + at[F_STEP], NULL, 10); step_ok = 1; }
            }
            if (!status && at[F_EPOCH] && s[at[F_EPOCH]] != 'n') {
                if (value_type(s, at[F_EPOCH], n) != T_INT) status = SLOW;
                else {
                    epoch_value = strtoll((const char *)s + at[F_EPOCH], NULL, 10);
                    if (epoch_value < INT32_MIN || epoch_value > INT32_MAX) status = SLOW;
                    epoch_ok = 1;
                }
            }
            if (!status && at[F_COVERT] && s[at[F_COVERT]] != 'n') {
                if (value_type(s, at[F_COVERT], n) != T_BOOL) status = SLOW;
                else { covert_value = s[at[F_COVERT]] == 't'; covert_ok = 1; }
            }
            if (!status && at[F_SCORE] && s[at[F_SCORE]] != 'n') {
                int t = value_type(s, at[F_SCORE], n);
                if (t != T_INT && t != T_NUMBER) status = SLOW;
                else {
                    /* strtod of JSON's number text: correctly rounded, as Python's float() */
                    int64_t e = skip_value(s, at[F_SCORE], n);
                    char tmp[64];
                    if (e - at[F_SCORE] >= (int64_t)sizeof tmp) status = SLOW;
                    else {
                        memcpy(tmp, s + at[F_SCORE], (size_t)(e - at[F_SCORE]));
                        tmp[e - at[F_SCORE]] = 0;
                        score_value = strtod(tmp, NULL);
                        if (!isfinite(score_value)) status = SLOW;
                        score_ok = 1;
                    }
                }
            }
            if (!status) {
                if (at[F_META] && s[at[F_META]] != 'n') {
                    if (s[at[F_META]] != '{') status = SLOW;
                    else {
                        int64_t e = skip_value(s, at[F_META], n);
                        if (e < 0 || bytes_put(&meta.data, s + at[F_META], (size_t)(e - at[F_META])) < 0) status = e < 0 ? SLOW : NOMEM;
                        else if (strcol_end(&meta, 1) < 0) status = NOMEM;
                    }
                } else if (strcol_end(&meta, 0) < 0) {
                    status = NOMEM;
                }
            }
            if (!status) {  /* the extra keys present, as one JSON object {"key": raw value, ...} */
                int present = 0;
                for (int k = N_KEYS; k < top.n && !status; k++) {
                    if (!at[k]) continue;
                    int64_t e = skip_value(s, at[k], n);
                    if (e < 0) { status = SLOW; break; }
                    if (bytes_put(&extra.data, present ? "," : "{", 1) < 0 || bytes_put(&extra.data, "\"", 1) < 0 ||
                        bytes_put(&extra.data, top.name[k], top.len[k]) < 0 || bytes_put(&extra.data, "\":", 2) < 0 ||
                        bytes_put(&extra.data, s + at[k], (size_t)(e - at[k])) < 0)
                        status = NOMEM;
                    present = 1;
                }
                if (!status && present && bytes_put(&extra.data, "}", 1) < 0) status = NOMEM;
                if (!status && strcol_end(&extra, present) < 0) status = NOMEM;
            }
            if (!status) {
                int rt = at[F_REASONING] ? value_type(s, at[F_REASONING], n) : T_NULL;
                int ot = at[F_OUTPUT] ? value_type(s, at[F_OUTPUT], n) : T_NULL;
                int mt = at[F_MESSAGES] ? value_type(s, at[F_MESSAGES], n) : T_NULL;
                int32_t ordinal = 0;
                if (mt == T_ARRAY && rt == T_NULL) {
                    int64_t j = ws(s, at[F_MESSAGES] + 1, n);
                    if (j < n && s[j] != ']') {
                        while (j < n && !status) {
                            status = message_segments(s, j, n, &g, (int64_t)r, &ordinal, &scratch);
                            if (status) break;
                            j = skip_value(s, j, n);
                            if (j < 0) { status = SLOW; break; }
                            j = ws(s, j, n);
                            if (j < n && s[j] == ',') { j = ws(s, j + 1, n); continue; }
                            if (j < n && s[j] == ']') break;
                            status = SLOW;
                        }
                    }
                } else if (mt == T_NULL && (rt == T_STRING || rt == T_NULL) && (ot == T_STRING || ot == T_NULL) &&
                           (rt == T_STRING || ot == T_STRING)) {
                    if (rt == T_STRING) {
                        int tk = take_string(s, at[F_REASONING], n, &g.text.data);
                        if (tk < 0) status = NOMEM;
                        else if (!tk) status = SLOW;
                        else if (seg_begin(&g, (int64_t)r, ordinal++, K_REASONING, R_ASSISTANT, 0) < 0 || strcol_end(&g.text, 1) < 0)
                            status = NOMEM;
                    }
                    if (!status && ot == T_STRING) {
                        size_t start = g.text.data.len;
                        int tk = take_string(s, at[F_OUTPUT], n, &g.text.data);
                        if (tk < 0) status = NOMEM;
                        else if (!tk) status = SLOW;
                        else {
                            const char *txt = g.text.data.p + start;
                            size_t len = g.text.data.len - start;
                            if (has_think(txt, len)) status = SLOW;
                            else if (is_blank((const unsigned char *)txt, len)) seg_drop_text(&g, start);
                            else if (seg_begin(&g, (int64_t)r, ordinal++, K_OUTPUT, R_ASSISTANT, 0) < 0 || strcol_end(&g.text, 1) < 0)
                                status = NOMEM;
                        }
                    }
                } else {
                    status = SLOW;
                }
            }
            if (status == NOMEM) {
                failed = 1;
                break;
            }
            if (status) {  /* for Python: undo this record's values, push nulls */
                id.data.len = m_id; run.data.len = m_run; env.data.len = m_env; meta.data.len = m_meta; extra.data.len = m_extra;
                id.offsets.len = o_id; run.offsets.len = o_run; env.offsets.len = o_env; meta.offsets.len = o_meta;
                extra.offsets.len = o_extra;
                id.valid.len = v_id; run.valid.len = v_run; env.valid.len = v_env; meta.valid.len = v_meta; extra.valid.len = v_extra;
                seg_reset(&g, mark);
                if (strcol_end(&id, 0) < 0 || strcol_end(&run, 0) < 0 || strcol_end(&env, 0) < 0 ||
                    strcol_end(&meta, 0) < 0 || strcol_end(&extra, 0) < 0) { failed = 1; break; }
                step_ok = epoch_ok = covert_ok = score_ok = 0;
            }
            unsigned char taken = status == 0;
            if (bytes_put(&ok, &taken, 1) < 0 || bytes_put(&step, &step_value, 8) < 0 || bytes_put(&step_v, &step_ok, 1) < 0 ||
                bytes_put(&epoch, &(int32_t){(int32_t)epoch_value}, 4) < 0 || bytes_put(&epoch_v, &epoch_ok, 1) < 0 ||
                bytes_put(&covert, &covert_value, 1) < 0 || bytes_put(&covert_v, &covert_ok, 1) < 0 ||
                bytes_put(&score, &score_value, 8) < 0 || bytes_put(&score_v, &score_ok, 1) < 0) {
                failed = 1;
                break;
            }
        }
        Py_END_ALLOW_THREADS
        free(scratch.p);
        if (failed) {
            PyErr_NoMemory();
            free(ok.p); free(step.p); free(step_v.p); free(epoch.p); free(epoch_v.p); free(covert.p); free(covert_v.p);
            free(score.p); free(score_v.p);
            StrCol *cols[] = {&id, &run, &env, &meta, &extra, &g.text};
            for (int c = 0; c < 6; c++) { free(cols[c]->offsets.p); free(cols[c]->data.p); free(cols[c]->valid.p); }
            free(g.rec.p); free(g.ord.p); free(g.kind.p); free(g.role.p); free(g.red.p);
            goto release;
        }
        result = Py_BuildValue("(N(NNN)(NNN)(NNN)(NNN)(NNN)NNNNNNNN(NNNNN(NN)))",
                               bytes_obj(&ok),
                               bytes_obj(&id.offsets), bytes_obj(&id.data), bytes_obj(&id.valid),
                               bytes_obj(&run.offsets), bytes_obj(&run.data), bytes_obj(&run.valid),
                               bytes_obj(&env.offsets), bytes_obj(&env.data), bytes_obj(&env.valid),
                               bytes_obj(&meta.offsets), bytes_obj(&meta.data), bytes_obj(&meta.valid),
                               bytes_obj(&extra.offsets), bytes_obj(&extra.data), bytes_obj(&extra.valid),
                               bytes_obj(&step), bytes_obj(&step_v), bytes_obj(&epoch), bytes_obj(&epoch_v),
                               bytes_obj(&covert), bytes_obj(&covert_v), bytes_obj(&score), bytes_obj(&score_v),
                               bytes_obj(&g.rec), bytes_obj(&g.ord), bytes_obj(&g.kind), bytes_obj(&g.role), bytes_obj(&g.red),
                               bytes_obj(&g.text.offsets), bytes_obj(&g.text.data));
        free(g.text.valid.p);
    }
release:
    Py_XDECREF(keys_seq);
    Py_XDECREF(extra_seq);
    PyBuffer_Release(&data);
    PyBuffer_Release(&bounds);
    PyBuffer_Release(&lines);
    return result;
}

static PyMethodDef methods[] = {
    {"scan_lines", scan_lines, METH_VARARGS,
     "scan_lines(data, max_depth, whole=False, fields=(), max_values=-1) -> (bounds int64[n+1], status uint8[n], "
     "detail int64[n], types uint8[n*len(fields)]) as bytes: line bounds, per-line checks and the JSON "
     "types of the named top-level fields (see analytics/ingest/_jsonscan.c)."},
    {"extract_records", extract_records, METH_VARARGS,
     "extract_records(data, bounds, lines, keys, extra_keys) -> columns of the records of common shapes "
     "(see analytics/ingest/_jsonscan.c)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_jsonscan", NULL, -1, methods};

PyMODINIT_FUNC PyInit__jsonscan(void) { return PyModule_Create(&module); }
