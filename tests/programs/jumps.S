/* jalr clears bit 0 of its target and links before jumping; branches compare signed and
 * unsigned; jumps go backwards too. */
#include "common.h"

.macro taken op, a, b
    li t1, 1
    \op \a, \b, .Ltaken\@
    li t1, 0
.Ltaken\@:
    put t1
.endm

begin
    /* Bit 0 of the target is cleared. */
    la t1, 1f
    addi t1, t1, 1
    jalr ra, 0(t1)
1:  la t2, 1b
    sub t2, ra, t2
    put t2
    /* Odd offset, odd base. */
    la t1, 2f
    addi t1, t1, -3
    jalr ra, 4(t1)
    j fail
2:  put ra
    /* rd == rs1: the old value is the target, the new one the link. */
    la t1, 3f
    jalr t1, 0(t1)
3:  la t2, 3b
    sub t2, t1, t2
    put t2
    /* A negative offset. */
    la t1, 4f
    addi t1, t1, 8
    jalr ra, -8(t1)
    j fail
4:  put ra

    /* A backward loop: sum 1..10. */
    li t2, 0
    li t3, 10
5:  add t2, t2, t3
    addi t3, t3, -1
    bnez t3, 5b
    put t2

    li s0, 0x80000000
    li s1, -1
    li s2, 1
    .irp op, beq, bne, blt, bge, bltu, bgeu
    taken \op, s0, zero
    taken \op, s1, s2
    taken \op, s2, s1
    taken \op, s0, s0
    taken \op, zero, s0
    .endr
    .irp op, slt, sltu
    \op t1, s0, s1
    put t1
    \op t1, s1, s0
    put t1
    \op t1, s1, zero
    put t1
    .endr
finish 0

fail:
    li a0, 1
    li a7, SYS_EXIT
    ecall
