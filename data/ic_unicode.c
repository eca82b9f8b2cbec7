#include "ic_unicode.h"

int ic_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned char b0 = s[0];
    if (b0 < 0x80) { *cp = b0; return 1; }
    int len;
    uint32_t min, v;
    if ((b0 & 0xE0) == 0xC0)      { len = 2; min = 0x80;    v = b0 & 0x1F; }
    else if ((b0 & 0xF0) == 0xE0) { len = 3; min = 0x800;   v = b0 & 0x0F; }
    else if ((b0 & 0xF8) == 0xF0) { len = 4; min = 0x10000; v = b0 & 0x07; }
    else { *cp = IC_UTF8_INVALID; return 1; }
    if ((size_t)len > n) { *cp = IC_UTF8_INVALID; return 1; }
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) { *cp = IC_UTF8_INVALID; return 1; }
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = IC_UTF8_INVALID;
        return 1;
    }
    *cp = v;
    return len;
}

int ic_utf8_encode(uint32_t cp, unsigned char out[4]) {
    if (cp < 0x80) { out[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

ic_unicode_class ic_unicode_classify(uint32_t cp) {
    /* ASCII is most of real text: answer it without the search. */
    if (cp < 0x80) {
        if (cp >= 'a' && cp <= 'z') return IC_UC_LETTER;
        if (cp >= 'A' && cp <= 'Z') return IC_UC_LETTER;
        if (cp >= '0' && cp <= '9') return IC_UC_NUMBER;
        if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return IC_UC_SPACE;
        return IC_UC_OTHER;
    }
    if (cp == IC_UTF8_INVALID) return IC_UC_OTHER;
    int lo = 0, hi = ic_unicode_n_ranges - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const ic_unicode_range *r = &ic_unicode_ranges[mid];
        if (cp < r->first) hi = mid - 1;
        else if (cp > r->last) lo = mid + 1;
        else return (ic_unicode_class)r->cls;
    }
    return IC_UC_OTHER;
}

int ic_unicode_is_numeric(uint32_t cp) {
    if (ic_unicode_classify(cp) == IC_UC_NUMBER) return 1;
    for (int i = 0; i < ic_unicode_n_digits_extra; i++)
        if (cp >= ic_unicode_digits_extra[i].first && cp <= ic_unicode_digits_extra[i].last) return 1;
    return 0;
}
