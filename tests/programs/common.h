/* Shared by the hand-written edge-case programs.
 *
 * A program starts with `begin`, records 32-bit results with `put REG` (s11 is the cursor into
 * the results buffer, so programs leave s11 alone), and ends with `finish CODE`: it writes the
 * results to stdout, looping on short counts as the opml VM returns at most 32 bytes per write,
 * then exits with CODE (through NUMBER, `exit` unless given). Every register a program reads it sets first: qemu-riscv32 starts with
 * sp set, the opml VM with every register zero. */

#define SYS_READ 63
#define SYS_WRITE 64
#define SYS_EXIT 93
#define SYS_EXIT_GROUP 94
#define WRITE_FAILED 0xee

.macro begin
    .text
    .globl _start
_start:
    la s11, results
.endm

.macro put reg
    sw \reg, 0(s11)
    addi s11, s11, 4
.endm

/* write(1, buf, len) until all is written; clobbers a0-a2, a7, t0. */
.macro write_all buf, len
    mv a1, \buf
    mv t0, \len
    beqz t0, .Ldone\@
.Lloop\@:
    li a0, 1
    mv a2, t0
    li a7, SYS_WRITE
    ecall
    blez a0, .Lfailed\@
    add a1, a1, a0
    sub t0, t0, a0
    bnez t0, .Lloop\@
    j .Ldone\@
.Lfailed\@:
    li a0, WRITE_FAILED
    li a7, SYS_EXIT
    ecall
.Ldone\@:
.endm

.macro finish code, number=SYS_EXIT
    la s10, results
    sub s9, s11, s10
    write_all s10, s9
    li a0, \code
    li a7, \number
    ecall

    .bss
    .balign 4
results:
    .space 4096
.endm
