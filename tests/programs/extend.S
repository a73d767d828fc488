/* Sign and zero extension: loads of every width, immediates, lui/auipc, and stores that keep
 * only their low bytes. */
#include "common.h"

begin
    la s0, bytes
    .irp offset, 0, 1, 2, 3
    lb t1, \offset(s0)
    put t1
    lbu t1, \offset(s0)
    put t1
    .endr
    .irp offset, 4, 6
    lh t1, \offset(s0)
    put t1
    lhu t1, \offset(s0)
    put t1
    .endr
    lw t1, 8(s0)
    put t1
    /* A negative offset. */
    addi s1, s0, 12
    lw t1, -12(s1)
    put t1
    lh t1, -8(s1)
    put t1

    /* 12-bit immediates sign-extend. */
    li t2, 0x12345678
    addi t1, t2, -2048
    put t1
    addi t1, t2, 2047
    put t1
    addi t1, zero, -1
    put t1
    xori t1, t2, -1
    put t1
    andi t1, t2, -2048
    put t1
    ori t1, t2, -2048
    put t1
    slti t1, t2, -1
    put t1
    slti t1, zero, -1
    put t1
    sltiu t1, zero, -1
    put t1
    sltiu t1, t2, -2048
    put t1
    sltiu t1, t1, 1
    put t1
    li t3, -1
    sltiu t1, t3, -1
    put t1
    slti t1, t3, 0
    put t1

    /* Upper immediates. */
    lui t1, 0xfffff
    put t1
    lui t1, 0x80000
    put t1
    auipc t1, 0
    put t1
    auipc t1, 0xfffff
    put t1

    /* Stores keep the low bytes; the rest of the word is untouched. */
    la s2, scratch
    li t1, -1
    sw t1, 0(s2)
    li t2, 0x12345678
    sb t2, 0(s2)
    sh t2, 2(s2)
    lw t1, 0(s2)
    put t1
    sb t2, -1(s2)
    lw t1, -4(s2)
    put t1
finish 0

    .data
    .balign 4
bytes:
    .byte 0x80, 0x7f, 0xff, 0x01
    .half 0x8000, 0x7fff
    .word 0x80000000
    .word 0
    .word 0xcafebabe
scratch:
    .word 0
