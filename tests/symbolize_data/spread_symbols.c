/* Text symbols spread over several 64 KiB windows of addresses, with aliases and
 * untyped labels, for the symbol-table tests (tests/test_symbolize_symbols.py).
 * Built with -fno-toplevel-reorder so the asm gaps stay between the functions. */

__attribute__((noinline)) int first(int x) { return x * 3 + 1; }

__asm__(".text\n"
        "label_after_first:\n"
        ".skip 70000, 0x90\n");

__attribute__((noinline)) int second(int x) { return x ^ 0x55; }

__asm__(".globl alias_of_second\n"
        ".type alias_of_second, @function\n"
        ".set alias_of_second, second\n"
        ".text\n"
        ".skip 200000, 0x90\n"
        "far_label:\n"
        ".skip 140000, 0x90\n");

__attribute__((noinline)) int last(int x) { return x - 7; }

int main(int argc, char **argv) { (void)argv; return first(argc) + second(argc) + last(argc); }
