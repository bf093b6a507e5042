# The ARITHMETIC program of DecodedBlockTest (GNU as: as -o t.o FILE && objcopy -O binary -j .text t.o t.bin).
.intel_syntax noprefix
mov ecx, 300
mov rax, 0x123456789abcdef
mov rbx, 0xfedcba987654321
mov edx, 7
L:
add rax, rbx
cmp rcx, rdx
setb sil
imul rax, rcx
imul r8d, eax
shl rdx, 3
sar r9d, 5
xor r9, rax
rol rax, 13
adc rdx, 0
ror r9d, 7
seto r10b
ror ebx, 1
rol r8d, 5
add rdx, rbx
ror r11, 60
cmovc r14, r11
cmovae rdx, rbx
cmovb r10d, ecx
or r11, rdx
sub rbx, rax
and r12d, ebx
shr rbx, 1
movsxd r13, r9d
movzx r14d, al
movzx r15d, bx
lea rdi, [rax + rcx*4 + 0x40]
lea esi, [rdi + rbx]
test r11, rax
inc rdi
adc r8, rcx
dec r12d
sbb rsi, rax
shl r10, 0
add rdx, 0x11
cmp ebx, 0x10
setne r12b
test r9d, 0x1234
cmovz r14, rdx
neg r11
setl r15b
neg ebx
test bl, 0x40
cmovnz r13d, ebx
add eax, 0x77
cmp al, 0x10
seta dil
and al, 0xf0
adc al, 7
test al, 1
cmp sil, 3
or r9b, 0x81
sbb r9b, 0x44
mov byte ptr [0x200010], al
mov byte ptr [0x200011], 0x5a
test byte ptr [0x200010], 0x80
setz r10b
test dword ptr [0x200000], 0x8001
setnz r11b
add byte ptr [0x200012], 3
cmp byte ptr [0x200011], 0x5a
movsxd r13, dword ptr [0x200010]
mov dword ptr [0x200000], r13d
mov rdx, qword ptr [0x200008]
add r8, qword ptr [0x200000]
test qword ptr [0x200010], rsi
setz r9b
movzx eax, word ptr [0x200010]
mov qword ptr [0x200018], rbx
mov dword ptr [0x200020], 0x1234
sub r10d, dword ptr [0x200020]
mov r11, qword ptr fs:[0x200018]
mov qword ptr [0x200008], r14
cmp r9b, sil
setae r13b
sub al, byte ptr [0x200011]
add byte ptr [0x200013], bl
adc dl, cl
xor r10b, r11b
mov word ptr [0x200014], bx
movsx r8d, al
movsx rdx, word ptr [0x200014]
movsx r12, r13b
dec ecx
jnz L
