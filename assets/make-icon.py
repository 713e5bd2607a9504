# Regenerates assets/icon.png (the packages' icon) with the standard library only: python3 assets/make-icon.py
# Draws the package icon: a database cylinder on a rounded square, 128x128, 4x supersampled.
import zlib, struct, math
N=128; S=4; W=N*S
bg=(17,94,112); fg=(255,255,255); band=(255,183,77)
def inside_rounded(x,y,r=22*S,m=4*S):
    x0,y0,x1,y1=m,m,W-m,W-m
    if x<x0 or x>=x1 or y<y0 or y>=y1: return False
    cx=min(max(x,x0+r),x1-r); cy=min(max(y,y0+r),y1-r)
    return (x-cx)**2+(y-cy)**2<=r*r
cx=W/2; rx=34*S; ry=11*S; top=30*S; bot=98*S
def in_ellipse(x,y,ey,grow=0):
    return ((x-cx)/(rx+grow))**2+((y-ey)/(ry+grow))**2<=1
def color(x,y):
    if not inside_rounded(x,y): return None
    body = abs(x-cx)<=rx and top<=y<=bot
    if in_ellipse(x,y,bot) or body or in_ellipse(x,y,top):
        # lids and bands: outlines of ellipses at several heights
        for ey in (top, top+23*S, top+46*S):
            if in_ellipse(x,y,ey,2*S) and not in_ellipse(x,y,ey,-2*S) and (ey==top or y>=ey):
                return band if ey!=top else bg
        if in_ellipse(x,y,top,-2*S): return fg
        return fg
    return bg
rows=[]
for py in range(N):
    row=bytearray([0])
    for px in range(N):
        acc=[0,0,0,0]
        for sy in range(S):
            for sx in range(S):
                c=color(px*S+sx+0.5,py*S+sy+0.5)
                if c is None: continue
                acc[0]+=c[0];acc[1]+=c[1];acc[2]+=c[2];acc[3]+=255
        n=S*S; a=acc[3]//n
        if a==0: row+=bytes(4)
        else:
            k=acc[3]/255
            row+=bytes([int(acc[0]/k),int(acc[1]/k),int(acc[2]/k),a])
    rows.append(bytes(row))
def chunk(t,d): return struct.pack('>I',len(d))+t+d+struct.pack('>I',zlib.crc32(t+d)&0xffffffff)
png=b'\x89PNG\r\n\x1a\n'+chunk(b'IHDR',struct.pack('>IIBBBBB',N,N,8,6,0,0,0))+chunk(b'IDAT',zlib.compress(b''.join(rows),9))+chunk(b'IEND',b'')
open('assets/icon.png','wb').write(png)
