/* The M extension's edge cases: division by zero, INT_MIN / -1, signed and unsigned high
 * products, and a destination that is also a source. */
#include "common.h"

.macro muldiv a, b
    div t1, \a, \b
    put t1
    divu t1, \a, \b
    put t1
    rem t1, \a, \b
    put t1
    remu t1, \a, \b
    put t1
    mul t1, \a, \b
    put t1
    mulh t1, \a, \b
    put t1
    mulhsu t1, \a, \b
    put t1
    mulhu t1, \a, \b
    put t1
.endm

begin
    li s0, 0x80000000
    li s1, -1
    li s2, 0
    li s3, 7
    li s4, -7
    li s5, 0x7fffffff
    li s6, 1

    /* Division by zero, of every kind of dividend. */
    muldiv s0, s2
    muldiv s1, s2
    muldiv s2, s2
    muldiv s3, s2
    muldiv s4, s2
    muldiv s5, s2
    /* The one signed overflow, and its neighbours. */
    muldiv s0, s1
    muldiv s0, s6
    muldiv s0, s0
    muldiv s5, s1
    muldiv s1, s1
    /* Signs and rounding towards zero. */
    muldiv s3, s4
    muldiv s4, s3
    muldiv s4, s4
    muldiv s5, s5
    muldiv s1, s5
    muldiv s0, s5

    /* rd aliasing the operands. */
    li t2, 0x80000000
    li t3, -1
    div t2, t2, t3
    put t2
    li t2, 12345
    rem t2, t2, t2
    put t2
    li t2, -3
    mulh t2, t2, t2
    put t2
finish 0
