/* x0 reads zero whatever is written to it. */
#include "common.h"

begin
    li s0, 0x11111111
    li s1, 0x22222222
    addi zero, zero, 5
    put zero
    lui zero, 0xfffff
    put zero
    auipc zero, 1
    put zero
    add zero, s0, s1
    put zero
    mul zero, s0, s1
    put zero
    div zero, s0, zero
    put zero
    la t1, word
    lw zero, 0(t1)
    put zero
    lbu zero, 0(t1)
    put zero
    jal zero, 1f
1:  put zero
    la t1, 2f
    jalr zero, 0(t1)
2:  put zero
    /* x0 as a source after all that. */
    add t2, zero, s0
    put t2
    sub t2, zero, s0
    put t2
    sltu t2, zero, s0
    put t2
finish 0

    .data
    .balign 4
word:
    .word 0xdeadbeef
