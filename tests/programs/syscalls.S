/* Syscall edge cases: unknown numbers, bad file descriptors, empty transfers; fences are
 * no-ops; exit_group exits, and the exit code keeps its low byte. */
#include "common.h"

begin
    la s0, buffer
    li a7, 1000
    ecall
    put a0
    li a0, 999
    mv a1, s0
    li a2, 4
    li a7, SYS_WRITE
    ecall
    put a0
    li a0, 999
    mv a1, s0
    li a2, 4
    li a7, SYS_READ
    ecall
    put a0
    li a0, 1
    mv a1, s0
    li a2, 0
    li a7, SYS_WRITE
    ecall
    put a0
    li a0, 0
    mv a1, s0
    li a2, 0
    li a7, SYS_READ
    ecall
    put a0
    fence
    fence rw, rw
    fence w, r
    fence.tso
    .word 0x0ff1000f /* fence iorw, iorw with rd = x0, rs1 = x2: the fields are ignored */
    .word 0x0ff0008f /* ... and with rd = x1 */
    put zero
finish 300, SYS_EXIT_GROUP

    .bss
buffer:
    .space 16
