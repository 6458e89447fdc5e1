//go:build amd64 && !purego

#include "textflag.h"

// mathc holds 8-lane constant vectors (32 bytes each) for the exp and erf kernels.
// 0: log2e
DATA mathc<>+0(SB)/4, $0x3fb8aa3b
DATA mathc<>+4(SB)/4, $0x3fb8aa3b
DATA mathc<>+8(SB)/4, $0x3fb8aa3b
DATA mathc<>+12(SB)/4, $0x3fb8aa3b
DATA mathc<>+16(SB)/4, $0x3fb8aa3b
DATA mathc<>+20(SB)/4, $0x3fb8aa3b
DATA mathc<>+24(SB)/4, $0x3fb8aa3b
DATA mathc<>+28(SB)/4, $0x3fb8aa3b
// 32: Cephes C1 = ln2 high
DATA mathc<>+32(SB)/4, $0x3f318000
DATA mathc<>+36(SB)/4, $0x3f318000
DATA mathc<>+40(SB)/4, $0x3f318000
DATA mathc<>+44(SB)/4, $0x3f318000
DATA mathc<>+48(SB)/4, $0x3f318000
DATA mathc<>+52(SB)/4, $0x3f318000
DATA mathc<>+56(SB)/4, $0x3f318000
DATA mathc<>+60(SB)/4, $0x3f318000
// 64: Cephes C2 = ln2 low
DATA mathc<>+64(SB)/4, $0xb95e8083
DATA mathc<>+68(SB)/4, $0xb95e8083
DATA mathc<>+72(SB)/4, $0xb95e8083
DATA mathc<>+76(SB)/4, $0xb95e8083
DATA mathc<>+80(SB)/4, $0xb95e8083
DATA mathc<>+84(SB)/4, $0xb95e8083
DATA mathc<>+88(SB)/4, $0xb95e8083
DATA mathc<>+92(SB)/4, $0xb95e8083
// 96: p0
DATA mathc<>+96(SB)/4, $0x39506967
DATA mathc<>+100(SB)/4, $0x39506967
DATA mathc<>+104(SB)/4, $0x39506967
DATA mathc<>+108(SB)/4, $0x39506967
DATA mathc<>+112(SB)/4, $0x39506967
DATA mathc<>+116(SB)/4, $0x39506967
DATA mathc<>+120(SB)/4, $0x39506967
DATA mathc<>+124(SB)/4, $0x39506967
// 128: p1
DATA mathc<>+128(SB)/4, $0x3ab743ce
DATA mathc<>+132(SB)/4, $0x3ab743ce
DATA mathc<>+136(SB)/4, $0x3ab743ce
DATA mathc<>+140(SB)/4, $0x3ab743ce
DATA mathc<>+144(SB)/4, $0x3ab743ce
DATA mathc<>+148(SB)/4, $0x3ab743ce
DATA mathc<>+152(SB)/4, $0x3ab743ce
DATA mathc<>+156(SB)/4, $0x3ab743ce
// 160: p2
DATA mathc<>+160(SB)/4, $0x3c088908
DATA mathc<>+164(SB)/4, $0x3c088908
DATA mathc<>+168(SB)/4, $0x3c088908
DATA mathc<>+172(SB)/4, $0x3c088908
DATA mathc<>+176(SB)/4, $0x3c088908
DATA mathc<>+180(SB)/4, $0x3c088908
DATA mathc<>+184(SB)/4, $0x3c088908
DATA mathc<>+188(SB)/4, $0x3c088908
// 192: p3
DATA mathc<>+192(SB)/4, $0x3d2aa9c1
DATA mathc<>+196(SB)/4, $0x3d2aa9c1
DATA mathc<>+200(SB)/4, $0x3d2aa9c1
DATA mathc<>+204(SB)/4, $0x3d2aa9c1
DATA mathc<>+208(SB)/4, $0x3d2aa9c1
DATA mathc<>+212(SB)/4, $0x3d2aa9c1
DATA mathc<>+216(SB)/4, $0x3d2aa9c1
DATA mathc<>+220(SB)/4, $0x3d2aa9c1
// 224: p4
DATA mathc<>+224(SB)/4, $0x3e2aaaaa
DATA mathc<>+228(SB)/4, $0x3e2aaaaa
DATA mathc<>+232(SB)/4, $0x3e2aaaaa
DATA mathc<>+236(SB)/4, $0x3e2aaaaa
DATA mathc<>+240(SB)/4, $0x3e2aaaaa
DATA mathc<>+244(SB)/4, $0x3e2aaaaa
DATA mathc<>+248(SB)/4, $0x3e2aaaaa
DATA mathc<>+252(SB)/4, $0x3e2aaaaa
// 256: p5
DATA mathc<>+256(SB)/4, $0x3f000000
DATA mathc<>+260(SB)/4, $0x3f000000
DATA mathc<>+264(SB)/4, $0x3f000000
DATA mathc<>+268(SB)/4, $0x3f000000
DATA mathc<>+272(SB)/4, $0x3f000000
DATA mathc<>+276(SB)/4, $0x3f000000
DATA mathc<>+280(SB)/4, $0x3f000000
DATA mathc<>+284(SB)/4, $0x3f000000
// 288: 1
DATA mathc<>+288(SB)/4, $0x3f800000
DATA mathc<>+292(SB)/4, $0x3f800000
DATA mathc<>+296(SB)/4, $0x3f800000
DATA mathc<>+300(SB)/4, $0x3f800000
DATA mathc<>+304(SB)/4, $0x3f800000
DATA mathc<>+308(SB)/4, $0x3f800000
DATA mathc<>+312(SB)/4, $0x3f800000
DATA mathc<>+316(SB)/4, $0x3f800000
// 320: exp upper clamp
DATA mathc<>+320(SB)/4, $0x42b0c0a5
DATA mathc<>+324(SB)/4, $0x42b0c0a5
DATA mathc<>+328(SB)/4, $0x42b0c0a5
DATA mathc<>+332(SB)/4, $0x42b0c0a5
DATA mathc<>+336(SB)/4, $0x42b0c0a5
DATA mathc<>+340(SB)/4, $0x42b0c0a5
DATA mathc<>+344(SB)/4, $0x42b0c0a5
DATA mathc<>+348(SB)/4, $0x42b0c0a5
// 352: exp lower clamp
DATA mathc<>+352(SB)/4, $0xc2b0c0a5
DATA mathc<>+356(SB)/4, $0xc2b0c0a5
DATA mathc<>+360(SB)/4, $0xc2b0c0a5
DATA mathc<>+364(SB)/4, $0xc2b0c0a5
DATA mathc<>+368(SB)/4, $0xc2b0c0a5
DATA mathc<>+372(SB)/4, $0xc2b0c0a5
DATA mathc<>+376(SB)/4, $0xc2b0c0a5
DATA mathc<>+380(SB)/4, $0xc2b0c0a5
// 384: 0.5
DATA mathc<>+384(SB)/4, $0x3f000000
DATA mathc<>+388(SB)/4, $0x3f000000
DATA mathc<>+392(SB)/4, $0x3f000000
DATA mathc<>+396(SB)/4, $0x3f000000
DATA mathc<>+400(SB)/4, $0x3f000000
DATA mathc<>+404(SB)/4, $0x3f000000
DATA mathc<>+408(SB)/4, $0x3f000000
DATA mathc<>+412(SB)/4, $0x3f000000
// 416: erf p
DATA mathc<>+416(SB)/4, $0x3ea7ba05
DATA mathc<>+420(SB)/4, $0x3ea7ba05
DATA mathc<>+424(SB)/4, $0x3ea7ba05
DATA mathc<>+428(SB)/4, $0x3ea7ba05
DATA mathc<>+432(SB)/4, $0x3ea7ba05
DATA mathc<>+436(SB)/4, $0x3ea7ba05
DATA mathc<>+440(SB)/4, $0x3ea7ba05
DATA mathc<>+444(SB)/4, $0x3ea7ba05
// 448: erf a5
DATA mathc<>+448(SB)/4, $0x3f87dc22
DATA mathc<>+452(SB)/4, $0x3f87dc22
DATA mathc<>+456(SB)/4, $0x3f87dc22
DATA mathc<>+460(SB)/4, $0x3f87dc22
DATA mathc<>+464(SB)/4, $0x3f87dc22
DATA mathc<>+468(SB)/4, $0x3f87dc22
DATA mathc<>+472(SB)/4, $0x3f87dc22
DATA mathc<>+476(SB)/4, $0x3f87dc22
// 480: erf a4
DATA mathc<>+480(SB)/4, $0xbfba00e3
DATA mathc<>+484(SB)/4, $0xbfba00e3
DATA mathc<>+488(SB)/4, $0xbfba00e3
DATA mathc<>+492(SB)/4, $0xbfba00e3
DATA mathc<>+496(SB)/4, $0xbfba00e3
DATA mathc<>+500(SB)/4, $0xbfba00e3
DATA mathc<>+504(SB)/4, $0xbfba00e3
DATA mathc<>+508(SB)/4, $0xbfba00e3
// 512: erf a3
DATA mathc<>+512(SB)/4, $0x3fb5f0e3
DATA mathc<>+516(SB)/4, $0x3fb5f0e3
DATA mathc<>+520(SB)/4, $0x3fb5f0e3
DATA mathc<>+524(SB)/4, $0x3fb5f0e3
DATA mathc<>+528(SB)/4, $0x3fb5f0e3
DATA mathc<>+532(SB)/4, $0x3fb5f0e3
DATA mathc<>+536(SB)/4, $0x3fb5f0e3
DATA mathc<>+540(SB)/4, $0x3fb5f0e3
// 544: erf a2
DATA mathc<>+544(SB)/4, $0xbe91a98e
DATA mathc<>+548(SB)/4, $0xbe91a98e
DATA mathc<>+552(SB)/4, $0xbe91a98e
DATA mathc<>+556(SB)/4, $0xbe91a98e
DATA mathc<>+560(SB)/4, $0xbe91a98e
DATA mathc<>+564(SB)/4, $0xbe91a98e
DATA mathc<>+568(SB)/4, $0xbe91a98e
DATA mathc<>+572(SB)/4, $0xbe91a98e
// 576: erf a1
DATA mathc<>+576(SB)/4, $0x3e827906
DATA mathc<>+580(SB)/4, $0x3e827906
DATA mathc<>+584(SB)/4, $0x3e827906
DATA mathc<>+588(SB)/4, $0x3e827906
DATA mathc<>+592(SB)/4, $0x3e827906
DATA mathc<>+596(SB)/4, $0x3e827906
DATA mathc<>+600(SB)/4, $0x3e827906
DATA mathc<>+604(SB)/4, $0x3e827906
// 608: sqrt(1/2)
DATA mathc<>+608(SB)/4, $0x3f3504f3
DATA mathc<>+612(SB)/4, $0x3f3504f3
DATA mathc<>+616(SB)/4, $0x3f3504f3
DATA mathc<>+620(SB)/4, $0x3f3504f3
DATA mathc<>+624(SB)/4, $0x3f3504f3
DATA mathc<>+628(SB)/4, $0x3f3504f3
DATA mathc<>+632(SB)/4, $0x3f3504f3
DATA mathc<>+636(SB)/4, $0x3f3504f3
// 640: int32 127
DATA mathc<>+640(SB)/4, $0x7f
DATA mathc<>+644(SB)/4, $0x7f
DATA mathc<>+648(SB)/4, $0x7f
DATA mathc<>+652(SB)/4, $0x7f
DATA mathc<>+656(SB)/4, $0x7f
DATA mathc<>+660(SB)/4, $0x7f
DATA mathc<>+664(SB)/4, $0x7f
DATA mathc<>+668(SB)/4, $0x7f
// 672: sign bit
DATA mathc<>+672(SB)/4, $0x80000000
DATA mathc<>+676(SB)/4, $0x80000000
DATA mathc<>+680(SB)/4, $0x80000000
DATA mathc<>+684(SB)/4, $0x80000000
DATA mathc<>+688(SB)/4, $0x80000000
DATA mathc<>+692(SB)/4, $0x80000000
DATA mathc<>+696(SB)/4, $0x80000000
DATA mathc<>+700(SB)/4, $0x80000000
// 704: 0.044715 (gelu tanh)
DATA mathc<>+704(SB)/4, $0x3d372713
DATA mathc<>+708(SB)/4, $0x3d372713
DATA mathc<>+712(SB)/4, $0x3d372713
DATA mathc<>+716(SB)/4, $0x3d372713
DATA mathc<>+720(SB)/4, $0x3d372713
DATA mathc<>+724(SB)/4, $0x3d372713
DATA mathc<>+728(SB)/4, $0x3d372713
DATA mathc<>+732(SB)/4, $0x3d372713
// 736: 2*sqrt(2/pi)
DATA mathc<>+736(SB)/4, $0x3fcc422a
DATA mathc<>+740(SB)/4, $0x3fcc422a
DATA mathc<>+744(SB)/4, $0x3fcc422a
DATA mathc<>+748(SB)/4, $0x3fcc422a
DATA mathc<>+752(SB)/4, $0x3fcc422a
DATA mathc<>+756(SB)/4, $0x3fcc422a
DATA mathc<>+760(SB)/4, $0x3fcc422a
DATA mathc<>+764(SB)/4, $0x3fcc422a
GLOBL mathc<>(SB), RODATA|NOPTR, $768

// EXP sets X = e^X (Cephes expf: |error| ~ 1 ulp; inputs clamped to [-88.38, 88.38], the low end
// giving 0; NaN stays NaN) using temporaries T1..T3; R8 points at mathc.
#define EXP(X, T1, T2, T3) \
	VMOVUPS 320(R8), T1 \
	VMINPS X, T1, X \
	VMOVUPS 352(R8), T1 \
	VMAXPS X, T1, X \
	VMULPS 0(R8), X, T1 \
	VADDPS 384(R8), T1, T1 \
	VROUNDPS $1, T1, T1 \
	VFNMADD231PS 32(R8), T1, X \
	VFNMADD231PS 64(R8), T1, X \
	VMULPS X, X, T2 \
	VMOVUPS 96(R8), T3 \
	VFMADD213PS 128(R8), X, T3 \
	VFMADD213PS 160(R8), X, T3 \
	VFMADD213PS 192(R8), X, T3 \
	VFMADD213PS 224(R8), X, T3 \
	VFMADD213PS 256(R8), X, T3 \
	VFMADD213PS X, T2, T3 \
	VADDPS 288(R8), T3, T3 \
	VCVTTPS2DQ T1, T1 \
	VPADDD 640(R8), T1, T1 \
	VPSLLD $23, T1, T1 \
	VMULPS T1, T3, X

// func expSubSumAVX2(x *float32, n int, m float32) float32
// x[i] = e^(x[i]-m) for i < n (a multiple of 8); returns the sum of the new values.
TEXT ·expSubSumAVX2(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS m+16(FP), Y15
	LEAQ mathc<>(SB), R8
	VXORPS Y14, Y14, Y14
	VXORPS Y13, Y13, Y13
	SHRQ $3, CX
	JEQ  esdone
esloop:
	VMOVUPS (DI), Y0
	VSUBPS  Y15, Y0, Y0
	EXP(Y0, Y1, Y2, Y3)
	VMOVUPS Y0, (DI)
	VADDPS  Y0, Y14, Y14
	ADDQ $32, DI
	DECQ CX
	JNZ  esloop
esdone:
	VEXTRACTF128 $1, Y14, X1
	VADDPS X1, X14, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func geluAVX2(x *float32, n int)
// x[i] = x[i]*0.5*(1+erf(x[i]*sqrt(1/2))) for i < n (a multiple of 8), with torch's vectorized erf:
// erf(u) = sign(u)*(1 - t*r(t)*e^(-u*u)), t = 1/(1+p|u|).
TEXT ·geluAVX2(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	LEAQ mathc<>(SB), R8
	VMOVUPS 672(R8), Y15
	SHRQ $3, CX
	JEQ  gdone
gloop:
	VMOVUPS (DI), Y0
	VMULPS  608(R8), Y0, Y1
	VANDPS  Y15, Y1, Y5
	VXORPS  Y5, Y1, Y2
	VMOVUPS 288(R8), Y3
	VFMADD231PS 416(R8), Y2, Y3
	VMOVUPS 288(R8), Y4
	VDIVPS  Y3, Y4, Y3
	VMOVUPS 448(R8), Y4
	VFMADD213PS 480(R8), Y3, Y4
	VFMADD213PS 512(R8), Y3, Y4
	VFMADD213PS 544(R8), Y3, Y4
	VFMADD213PS 576(R8), Y3, Y4
	VMULPS  Y1, Y1, Y6
	VXORPS  Y15, Y6, Y6
	EXP(Y6, Y7, Y8, Y9)
	VMULPS  Y3, Y6, Y6
	VFNMADD213PS 288(R8), Y4, Y6
	VXORPS  Y5, Y6, Y6
	VADDPS  288(R8), Y6, Y6
	VMULPS  384(R8), Y0, Y0
	VMULPS  Y6, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	DECQ CX
	JNZ  gloop
gdone:
	VZEROUPPER
	RET

// func maxAVX2(x *float32, n int) float32
// max of x[:n], n a positive multiple of 8 (NaN handling as VMAXPS: not propagated).
TEXT ·maxAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	VMOVUPS (DI), Y0
	ADDQ $32, DI
	SHRQ $3, CX
	DECQ CX
	JEQ  mxdone
mxloop:
	VMAXPS (DI), Y0, Y0
	ADDQ $32, DI
	DECQ CX
	JNZ  mxloop
mxdone:
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0x4e, X0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0xb1, X0, X1
	VMAXPS X1, X0, X0
	VZEROUPPER
	MOVSS X0, ret+16(FP)
	RET

// func scaleAVX2(x *float32, n int, s float32)
// x[i] *= s for i < n (a multiple of 8).
TEXT ·scaleAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS s+16(FP), Y1
	SHRQ $3, CX
	JEQ  scdone
scloop:
	VMULPS (DI), Y1, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	DECQ CX
	JNZ  scloop
scdone:
	VZEROUPPER
	RET

// func axpyAVX2(y, x *float32, n int, a float32)
// y[i] += a*x[i] for i < n (a multiple of 8).
TEXT ·axpyAVX2(SB), NOSPLIT, $0-28
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS a+24(FP), Y1
	SHRQ $3, CX
	JEQ  axdone
axloop:
	VMOVUPS (DI), Y0
	VFMADD231PS (SI), Y1, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	DECQ CX
	JNZ  axloop
axdone:
	VZEROUPPER
	RET

// func sigmoidMulAVX2(x *float32, n int, gelu int)
// x[i] = x[i] / (1 + e^(-u)) for i < n (a multiple of 8), with u = x (SiLU) or, when gelu != 0,
// u = 2*sqrt(2/pi)*(x + 0.044715*x^3) (the tanh GELU: 0.5*(1+tanh(v)) = sigmoid(2v)).
TEXT ·sigmoidMulAVX2(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	MOVQ gelu+16(FP), DX
	LEAQ mathc<>(SB), R8
	VMOVUPS 672(R8), Y15
	SHRQ $3, CX
	JEQ  smdone
smloop:
	VMOVUPS (DI), Y0
	VMOVUPS Y0, Y6
	TESTQ DX, DX
	JEQ  smexp
	VMULPS Y0, Y0, Y1
	VMULPS 704(R8), Y1, Y1
	VMULPS Y0, Y1, Y1
	VADDPS Y0, Y1, Y1
	VMULPS 736(R8), Y1, Y6
smexp:
	VXORPS Y15, Y6, Y6
	EXP(Y6, Y7, Y8, Y9)
	VADDPS 288(R8), Y6, Y6
	VDIVPS Y6, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	DECQ CX
	JNZ  smloop
smdone:
	VZEROUPPER
	RET
