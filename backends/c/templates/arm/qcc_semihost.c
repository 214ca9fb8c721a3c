/* Arm semihosting for the qcc Cortex-M harness (see qcc_semihost.h). */
#include "qcc_semihost.h"

#define SH_SYS_OPEN 0x01
#define SH_SYS_CLOSE 0x02
#define SH_SYS_WRITE0 0x04
#define SH_SYS_WRITE 0x05
#define SH_SYS_READ 0x06
#define SH_SYS_EXIT 0x18
#define SH_SYS_EXIT_EXTENDED 0x20
#define SH_APPLICATION_EXIT 0x20026

static int32_t sh_call(int32_t op, const void *arg)
{
    register int32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static size_t cstr_len(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    return n;
}

int32_t qcc_sh_open(const char *path, int32_t mode)
{
    uint32_t block[3];
    block[0] = (uint32_t)(uintptr_t)path;
    block[1] = (uint32_t)mode;
    block[2] = (uint32_t)cstr_len(path);
    return sh_call(SH_SYS_OPEN, block);
}

int32_t qcc_sh_close(int32_t handle)
{
    uint32_t block[1];
    block[0] = (uint32_t)handle;
    return sh_call(SH_SYS_CLOSE, block);
}

int qcc_sh_read_exact(int32_t handle, void *buf, size_t len)
{
    uint8_t *p = (uint8_t *)buf;
    size_t done = 0;
    while (done < len) {
        uint32_t block[3];
        int32_t left;
        block[0] = (uint32_t)handle;
        block[1] = (uint32_t)(uintptr_t)(p + done);
        block[2] = (uint32_t)(len - done);
        left = sh_call(SH_SYS_READ, block); /* bytes NOT read */
        if (left < 0 || (size_t)left > len - done) {
            return -1;
        }
        if ((size_t)left == len - done) { /* nothing read: end of file */
            return done == 0 ? 1 : -1;
        }
        done = len - (size_t)left;
    }
    return 0;
}

int qcc_sh_write(int32_t handle, const void *buf, size_t len)
{
    uint32_t block[3];
    block[0] = (uint32_t)handle;
    block[1] = (uint32_t)(uintptr_t)buf;
    block[2] = (uint32_t)len;
    return sh_call(SH_SYS_WRITE, block) == 0 ? 0 : -1;
}

void qcc_sh_puts(const char *text)
{
    (void)sh_call(SH_SYS_WRITE0, text);
}

void qcc_sh_put_uint(uint32_t value)
{
    char text[12];
    int i = 11;
    text[i] = '\0';
    do {
        text[--i] = (char)('0' + value % 10u);
        value /= 10u;
    } while (value != 0u && i > 0);
    qcc_sh_puts(&text[i]);
}

void qcc_sh_exit(int status)
{
    uint32_t block[2];
    block[0] = SH_APPLICATION_EXIT;
    block[1] = (uint32_t)status;
    if (status == 0) {
        (void)sh_call(SH_SYS_EXIT, (const void *)(uintptr_t)SH_APPLICATION_EXIT);
    } else {
        (void)sh_call(SH_SYS_EXIT_EXTENDED, block);
    }
    for (;;) {
    }
}
