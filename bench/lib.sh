# Shared by the bench/ scripts (source it).

# Prints the median of the numbers on stdin, one per line (nothing for no input).
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
