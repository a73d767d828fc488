/* Shift amounts come from the low five bits of rs2 (or a 5-bit immediate). */
#include "common.h"

.macro shifts value, amount
    li t1, \value
    li t2, \amount
    sll t3, t1, t2
    put t3
    srl t3, t1, t2
    put t3
    sra t3, t1, t2
    put t3
.endm

.macro shifts_imm value
    li t1, \value
    slli t3, t1, 0
    put t3
    slli t3, t1, 31
    put t3
    srli t3, t1, 1
    put t3
    srli t3, t1, 31
    put t3
    srai t3, t1, 1
    put t3
    srai t3, t1, 31
    put t3
.endm

begin
    .irp value, 0x80000001, 0x12345678, -1, 1
    .irp amount, 0, 1, 31, 32, 33, 63, -1, 0xffffffe0, 0x80000000, 0x7fffffff
    shifts \value, \amount
    .endr
    shifts_imm \value
    .endr
    /* A register shifted by itself. */
    li t1, 0x80000021
    sra t1, t1, t1
    put t1
finish 0
